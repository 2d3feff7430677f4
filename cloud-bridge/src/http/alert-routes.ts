import type { IncomingMessage } from 'node:http';
import { EPOCH_RULE, isEpoch, isGatewayId } from '@fieldmesh/protocol';
import type { AlertAck, AlertHistoryEvent, AlertRef, OpenAlert } from '../bridge/alert-store.js';
import { CloudHttpError } from './errors.js';
import { readJsonBody } from './json-body.js';

/** What the alert routes need of the alert store (SqliteAlertStore). */
export interface AlertBook {
  open(gateway?: string, limit?: number): OpenAlert[];
  history(q: { gateway?: string; from?: number; to?: number; limit: number }): AlertHistoryEvent[];
  acknowledge(ref: AlertRef, by: string, at: number): AlertAck | null;
}

/** A 4xx answer with its reason; the HTTP layer turns it into `{ error, code }`. */
export class RouteError extends CloudHttpError {
  constructor(status: 400 | 401 | 404 | 405 | 413 | 415, detail: string) {
    super(status, detail);
    this.name = 'RouteError';
  }
}

/** History events one request returns at most; the page asks with `to` for older ones. */
export const MAX_ALERT_HISTORY = 1000;
/** An acknowledgement body is three short fields. */
const MAX_ACK_BODY_BYTES = 4096;

function intParam(params: URLSearchParams, key: string, min: number, max: number): number | undefined {
  const raw = params.get(key);
  if (raw === null || raw === '') return undefined;
  if (!/^-?\d{1,16}$/.test(raw)) throw new RouteError(400, `${key} must be an integer, got ${JSON.stringify(raw.slice(0, 40))}`);
  const n = Number(raw);
  if (n < min || n > max) throw new RouteError(400, `${key} must be ${min}..${max}, got ${n}`);
  return n;
}

/**
 * `GET /api/alerts?gateway=&state=open|all&from=&to=&limit=`: `open` (raised, not cleared, with
 * their acknowledgement) and, unless `state=open`, `history` (events newest first, `limit`
 * default 100). Times are ms since the epoch, `from` inclusive, `to` exclusive.
 */
export function alertsQuery(book: AlertBook, params: URLSearchParams): { open: OpenAlert[]; history?: AlertHistoryEvent[] } {
  for (const key of params.keys()) {
    if (!['gateway', 'state', 'from', 'to', 'limit'].includes(key)) throw new RouteError(400, `unknown parameter ${JSON.stringify(key.slice(0, 40))}; known: gateway, state, from, to, limit`);
  }
  const gateway = params.get('gateway') ?? undefined;
  if (gateway !== undefined && !isGatewayId(gateway)) throw new RouteError(400, `gateway ${JSON.stringify(gateway.slice(0, 80))} is not a gateway id`);
  const state = params.get('state') ?? 'all';
  if (state !== 'open' && state !== 'all') throw new RouteError(400, `state must be open or all, got ${JSON.stringify(state.slice(0, 40))}`);
  const from = intParam(params, 'from', -8.64e15, 8.64e15);
  const to = intParam(params, 'to', -8.64e15, 8.64e15);
  const limit = intParam(params, 'limit', 1, MAX_ALERT_HISTORY) ?? 100;
  const open = book.open(gateway);
  if (state === 'open') return { open };
  return { open, history: book.history({ limit, ...(gateway === undefined ? {} : { gateway }), ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) }) };
}

/** The bearer token of a request (`Authorization: Bearer …`); a token in the URL would land in logs and history. */
export function bearerToken(req: IncomingMessage): string | null {
  return /^Bearer ([^\s]{1,200})$/.exec(req.headers.authorization ?? '')?.[1] ?? null;
}

/**
 * `POST /api/alerts/ack` with `{"gateway","epoch","alertId"}` and a live token as bearer:
 * records who (the token's name) acknowledged the alert and when. 401 without a valid token,
 * 404 for an alert the cloud never received raised; acknowledging twice keeps the first.
 */
export async function acknowledgeAlert(
  book: AlertBook,
  req: IncomingMessage,
  who: (token: string | null) => string | null,
  now: () => number,
  acknowledged: (ref: AlertRef, ack: AlertAck) => void,
): Promise<{ gateway: string; epoch: string; alertId: number; ack: AlertAck }> {
  const by = who(bearerToken(req));
  if (by === null) throw new RouteError(401, 'a valid token is required (Authorization: Bearer …)');
  const body = (await readJsonBody(req, MAX_ACK_BODY_BYTES)) as Record<string, unknown> | null;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RouteError(400, 'the body must be a JSON object {"gateway","epoch","alertId"}');
  const { gateway, epoch, alertId } = body;
  if (typeof gateway !== 'string' || !isGatewayId(gateway)) throw new RouteError(400, 'gateway must be a gateway id');
  if (!isEpoch(epoch)) throw new RouteError(400, `epoch must be ${EPOCH_RULE}`);
  if (typeof alertId !== 'number' || !Number.isSafeInteger(alertId) || alertId < 0) throw new RouteError(400, 'alertId must be an integer ≥ 0');
  const ref = { gateway, epoch, alertId };
  const ack = book.acknowledge(ref, by, now());
  if (ack === null) throw new RouteError(404, `no raised alert ${alertId} of ${gateway} (epoch ${epoch})`);
  acknowledged(ref, ack);
  return { ...ref, ack };
}
