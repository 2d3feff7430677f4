import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { isSeriesName } from '@fieldmesh/device-sdk';
import { isEpoch, isGatewayId } from '@fieldmesh/protocol';
import { PROMETHEUS_CONTENT_TYPE } from '@fieldmesh/device-sdk/metrics/prometheus';
import type { AlertAck, AlertRef } from '../bridge/alert-store.js';
import { CloudError } from '../errors.js';
import type { CloudStore, ReadingQuery } from '../store/cloud-store.js';
import { acknowledgeAlert, alertsQuery, type AlertBook } from './alert-routes.js';
import { CloudHttpError } from './errors.js';
import type { HttpAccess } from './http-access.js';
import { sendJson as send } from './json-body.js';
import { renderOverviewPage } from './overview-page.js';
import { decimatedReadings, MAX_BUCKETS } from './reading-decimation.js';

/** Most readings one request returns; ask again with `from` past the last ts for more. */
export const MAX_READINGS_PER_REQUEST = 10_000;

/** A 400 naming the parameter. */
class BadRequest extends CloudHttpError {
  constructor(detail: string) {
    super(400, detail);
  }
}

/** The answer to a refusal: its status and `{ error, code }`. */
const refuse = (res: ServerResponse, err: CloudHttpError) => send(res, err.status, err.body());

/** A page or asset served as is. */
export interface StaticResponse {
  type: string;
  body: string | Buffer;
  /** Cache-Control; default no-store. */
  cache?: string;
}

function intParam(params: URLSearchParams, key: string): number | undefined {
  const raw = params.get(key);
  if (raw === null || raw === '') return undefined;
  if (!/^-?\d{1,16}$/.test(raw)) throw new BadRequest(`${key} must be an integer (milliseconds since the epoch), got ${JSON.stringify(raw.slice(0, 40))}`);
  return Number(raw);
}

/** Parses `/api/readings` query parameters; throws BadRequest naming the parameter. */
export function parseReadingQuery(params: URLSearchParams): ReadingQuery & { step?: number } {
  for (const key of params.keys()) {
    if (!['gateway', 'series', 'from', 'to', 'limit', 'after', 'step'].includes(key)) throw new BadRequest(`unknown parameter ${JSON.stringify(key.slice(0, 40))}; known: gateway, series, from, to, limit, after, step`);
  }
  const q: ReadingQuery & { step?: number } = { limit: 1000 };
  const gateway = params.get('gateway');
  if (gateway !== null) {
    if (!isGatewayId(gateway)) throw new BadRequest(`gateway ${JSON.stringify(gateway.slice(0, 80))} is not a gateway id`);
    q.gateway = gateway;
  }
  const series = params.get('series');
  if (series !== null) {
    if (!isSeriesName(series)) throw new BadRequest(`series ${JSON.stringify(series.slice(0, 200))} is not a device/sensor name`);
    q.series = series;
  }
  const from = intParam(params, 'from');
  const to = intParam(params, 'to');
  if (from !== undefined) q.from = from;
  if (to !== undefined) q.to = to;
  if (from !== undefined && to !== undefined && to < from) throw new BadRequest(`to (${to}) is before from (${from})`);
  const after = params.get('after');
  if (after !== null) {
    // The `next` value of the previous page: ts~gateway~epoch~seq (`~` is in no id alphabet).
    const [ts, gateway, epoch, seq, ...more] = after.split('~');
    if (more.length > 0 || !/^-?\d{1,16}$/.test(ts!) || !isGatewayId(gateway) || !isEpoch(epoch) || !/^\d{1,16}$/.test(seq ?? '')) {
      throw new BadRequest('after must be the `next` value of a previous page (ts~gateway~epoch~seq)');
    }
    q.after = { ts: Number(ts), gateway, epoch, seq: Number(seq) };
  }
  const limit = intParam(params, 'limit');
  if (limit !== undefined) {
    if (limit < 1 || limit > MAX_READINGS_PER_REQUEST) throw new BadRequest(`limit must be 1..${MAX_READINGS_PER_REQUEST}, got ${limit}`);
    q.limit = limit;
  }
  const step = intParam(params, 'step');
  if (step !== undefined) {
    // Decimation is per series over a closed range: the bucket count, and so the answer, stays bounded.
    if (q.gateway === undefined || q.series === undefined || q.from === undefined || q.to === undefined) throw new BadRequest('step needs gateway, series, from and to');
    if (step < 1) throw new BadRequest(`step must be ≥ 1 ms, got ${step}`);
    if (q.after !== undefined) throw new BadRequest('step answers a whole range in one page: no after');
    if ((q.to - q.from) / step > MAX_BUCKETS) throw new BadRequest(`(to - from) / step must be ≤ ${MAX_BUCKETS} buckets, got ${Math.ceil((q.to - q.from) / step)}; use a larger step`);
    q.step = step;
  }
  return q;
}

/** JSON cannot carry NaN or ±Infinity: they travel as the strings "NaN", "Infinity", "-Infinity". */
function jsonValue(v: number | boolean | string): number | boolean | string {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}

/** Slow-client bounds (slowloris): headers within 10 s, the whole request within 30 s. */
export interface HttpTimeouts {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

export const HTTP_TIMEOUTS: HttpTimeouts = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 };

export class CloudHttpApi {
  private server: Server | null = null;

  constructor(
    private readonly store: CloudStore,
    private readonly access: HttpAccess,
    private readonly extra: {
      metrics: () => Record<string, unknown>;
      /** WebSocket upgrades (the live API, cloud-bridge/src/live/LIVE.md); without it upgrades are refused. */
      upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
      /** Pages and static assets (the dashboard); null falls through to the API routes. */
      page?: (path: string) => Promise<StaticResponse | null>;
      /**
       * `/api/fleet…` (cloud-bridge/src/fleet/FLEET-CLOUD.md): past the Host check, these routes
       * decide who may call them (admin tokens, live tokens, a gateway's credential for bundles).
       */
      fleet?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;
      /** `GET /metrics`: the Prometheus text; without it the route is 404. */
      prometheus?: () => Promise<string>;
      /** `/api/alerts` and `POST /api/alerts/ack`; without it those routes are 404. */
      alerts?: {
        book: AlertBook;
        /** The name of a valid token (who acknowledges), or null. */
        who: (token: string | null) => string | null;
        now: () => number;
        acknowledged?: (ref: AlertRef, ack: AlertAck) => void;
      };
    },
    private readonly timeouts: HttpTimeouts = HTTP_TIMEOUTS,
  ) {}

  async listen(port: number, host: string): Promise<number> {
    const server = createServer(
      // Node checks the two timeouts every connectionsCheckingInterval (default 30 s): check often
      // enough that a slow client is closed near its deadline, not up to 30 s after.
      { headersTimeout: this.timeouts.headersTimeoutMs, requestTimeout: this.timeouts.requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, this.timeouts.headersTimeoutMs) },
      (req, res) => {
        this.route(req, res).catch((err: Error) => refuse(res, new CloudHttpError(500, err.message)));
      },
    );
    server.maxHeadersCount = 50;
    server.keepAliveTimeout = 5000;
    // A malformed request or a timed-out one: the connection goes (counted), the process stays.
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      // ECONNRESET is the client leaving, not a refusal.
      if (err.code !== 'ECONNRESET') this.access.clientError(err.code);
      socket.destroy();
    });
    const upgrade = this.extra.upgrade;
    if (upgrade) {
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        socket.on('error', () => {});
        if (!this.access.hostAllowed(req)) return void socket.end('HTTP/1.1 421 Misdirected Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        upgrade(req, socket, head);
      });
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new CloudError('FM_ERR_CLOUD_LISTEN', `http ${host}:${port}: ${err.message}`)));
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      // `//` or `//x` is a scheme-relative reference (RFC 3986 §4.2): no path of ours, a 400.
      if ((req.url ?? '/').startsWith('//')) throw new Error('scheme-relative');
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      this.access.badRequest();
      return refuse(res, new CloudHttpError(400, 'request target is not a path'));
    }
    if (this.extra.fleet && (url.pathname === '/api/fleet' || url.pathname.startsWith('/api/fleet/'))) {
      const host = this.access.decideHost(req);
      if (!host.ok) return refuse(res, new CloudHttpError(host.status, host.why));
      return this.extra.fleet(req, res, url);
    }
    const allowed = this.access.decide(req, url);
    if (!allowed.ok) {
      // A browser opening `/` without a token gets a form that reopens the page with one.
      if (allowed.reason === 'token' && url.pathname === '/') return sendHtml(res, TOKEN_FORM, 401);
      return refuse(res, new CloudHttpError(allowed.status, allowed.why));
    }
    if (allowed.setCookie) res.setHeader('set-cookie', allowed.setCookie);
    const alerts = this.extra.alerts;
    if (req.method === 'POST' && url.pathname === '/api/alerts/ack' && alerts) {
      try {
        return send(res, 200, await acknowledgeAlert(alerts.book, req, alerts.who, alerts.now, alerts.acknowledged ?? (() => {})));
      } catch (err) {
        if (err instanceof CloudHttpError) return refuse(res, err);
        throw err;
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, new CloudHttpError(405, 'only GET (and POST /api/alerts/ack)'));
    try {
      const page = this.extra.page ? await this.extra.page(url.pathname) : null;
      if (page) {
        res.writeHead(200, { 'content-type': page.type, 'cache-control': page.cache ?? 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : page.body);
        return;
      }
      switch (url.pathname) {
        case '/':
          return sendHtml(res, renderOverviewPage(await this.store.gateways(), await this.store.series()));
        case '/healthz':
          return send(res, 200, { ok: true });
        case '/api/gateways':
          return send(res, 200, { gateways: await this.store.gateways() });
        case '/api/series': {
          const gateway = url.searchParams.get('gateway') ?? undefined;
          if (gateway !== undefined && !isGatewayId(gateway)) throw new BadRequest('gateway is not a gateway id');
          const series = await this.store.series(gateway);
          return send(res, 200, { series: series.map((s) => ({ ...s, lastValue: jsonValue(s.lastValue) })) });
        }
        case '/api/readings': {
          const { step, ...q } = parseReadingQuery(url.searchParams);
          if (step !== undefined) {
            const d = await decimatedReadings(this.store, q as typeof q & { from: number; to: number }, step);
            return send(res, 200, { ...d, readings: d.readings.map((r) => ({ ...r, value: jsonValue(r.value) })) });
          }
          const rows = await this.store.readings(q);
          const last = rows.at(-1);
          // A full page may have more behind it: `next` goes back as `after` for the next page.
          const next = rows.length === q.limit && last ? `${last.ts}~${last.gateway}~${last.epoch}~${last.seq}` : null;
          return send(res, 200, { readings: rows.map((r) => ({ ...r, value: jsonValue(r.value) })), limit: q.limit, next });
        }
        case '/api/metrics':
          return send(res, 200, this.extra.metrics());
        case '/metrics': {
          if (!this.extra.prometheus) break;
          // Rendered before the head is written: a store failure is then still a clean 500.
          const text = await this.extra.prometheus();
          res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : text);
          return;
        }
        case '/api/alerts':
          if (!alerts) break;
          return send(res, 200, alertsQuery(alerts.book, url.searchParams));
      }
      return refuse(res, new CloudHttpError(404, `no route ${url.pathname.slice(0, 200)}`));
    } catch (err) {
      if (err instanceof BadRequest) {
        this.access.badRequest();
        return refuse(res, err);
      }
      if (err instanceof CloudHttpError) return refuse(res, err);
      throw err;
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const TOKEN_FORM =
  '<!doctype html><meta charset="utf-8"><title>fieldmesh: token needed</title>' +
  '<p>This dashboard needs its live token (printed by <code>fieldmesh cloud</code> at the first start, or by the demo in its dashboard URL).</p>' +
  '<form method="get" action="/"><input name="token" size="50" autocomplete="off" autofocus> <button>open</button></form>';

function sendHtml(res: ServerResponse, html: string, status = 200): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}
