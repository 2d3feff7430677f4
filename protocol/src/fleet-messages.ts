import { IDENTIFIER_RULE, isGatewayId, isGroupTag } from './identifiers.js';
import { isRecord, type ConfigBody, type ReleaseBody, type RollbackBody, type SignedArtifact } from './fleet-artifact.js';

/**
 * Fleet messages on the uplink (protocol/FLEET-FORMAT.md §3): the desired state the cloud keeps
 * retained for each gateway, and the reported state each gateway keeps retained for the cloud.
 * Artifacts inside are checked by the gateway with verifyArtifact; these codecs only bound sizes
 * and shapes, and never throw on what arrives.
 */
export const fleetTopics = {
  /** Cloud → gateway, retained, QoS 1. Only the cloud publishes it; a gateway reads its own. */
  desired: (gatewayId: string) => `fm/g/${gatewayId}/fleet/desired`,
  /** Gateway → cloud, retained, QoS 1. A gateway publishes only its own. */
  reported: (gatewayId: string) => `fm/g/${gatewayId}/fleet/reported`,
};

export const MAX_DESIRED_BYTES = 64 * 1024;
export const MAX_REPORTED_BYTES = 16 * 1024;
/** Reported state keeps this many of the newest refusals. */
export const MAX_REPORTED_REFUSALS = 10;

export interface DesiredState {
  format: 1;
  gateway: string;
  /** Increases on every change the cloud makes for this gateway: dedupe only (it is not signed). */
  serial: number;
  release?: SignedArtifact<ReleaseBody>;
  /** Path on the cloud's HTTP API the bundle is fetched from, e.g. /api/fleet/releases/1.2.0/bundle. */
  bundlePath?: string;
  config?: SignedArtifact<ConfigBody>;
  rollback?: SignedArtifact<RollbackBody>;
}

export type UpdateStep = 'fetch' | 'verify' | 'unpack' | 'switch' | 'trial' | 'confirm';
export type UpdateOutcome = 'in-progress' | 'adopted' | 'rolled-back' | 'refused';
export type RefusalReason =
  | 'unsigned'
  | 'wrong-key'
  | 'bad-signature'
  | 'malformed'
  | 'downgrade'
  | 'old-revision'
  | 'replayed-order'
  | 'failed-before'
  | 'hash-mismatch'
  | 'invalid-config'
  | 'section-not-allowed'
  | 'wrong-machine'
  | 'fetch-failed';

export const REFUSAL_REASONS: readonly RefusalReason[] = [
  'unsigned', 'wrong-key', 'bad-signature', 'malformed', 'downgrade', 'old-revision', 'replayed-order',
  'failed-before', 'hash-mismatch', 'invalid-config', 'section-not-allowed', 'wrong-machine', 'fetch-failed',
];
const STEPS: readonly UpdateStep[] = ['fetch', 'verify', 'unpack', 'switch', 'trial', 'confirm'];
const OUTCOMES: readonly UpdateOutcome[] = ['in-progress', 'adopted', 'rolled-back', 'refused'];

export interface ReportedUpdate {
  kind: 'release' | 'config';
  /** A version for a release, a revision number for a config. */
  target: string | number;
  step: UpdateStep;
  outcome: UpdateOutcome;
  reason?: string;
  at: string;
  /** Bundle bytes downloaded for this update so far (a resumed download counts only what moved). */
  bytes?: number;
}

export interface ReportedRefusal {
  kind: 'release' | 'config' | 'rollback';
  target: string;
  reason: RefusalReason;
  at: string;
  why: string;
}

export interface ReportedState {
  format: 1;
  gateway: string;
  at: string;
  tags: string[];
  running: { version: string; configRevision: number | null };
  desiredSerial: number | null;
  update?: ReportedUpdate;
  refused: ReportedRefusal[];
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; why: string };

const BUNDLE_PATH = /^\/api\/fleet\/releases\/[0-9.]{5,22}\/bundle$/;

const isSerial = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isShort = (v: unknown, max: number) => typeof v === 'string' && v.length <= max;

/** A fleet message's JSON object, bounded first, with the fields every one carries: `format` 1 and `gateway`. */
function parseMessage(payload: Buffer | string, max: number): Parsed<Record<string, unknown>> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size > max) return { ok: false, why: `${size} bytes, over the ${max}-byte limit` };
  let v: unknown;
  try {
    v = JSON.parse(payload.toString());
  } catch {
    return { ok: false, why: 'not JSON' };
  }
  if (!isRecord(v)) return { ok: false, why: 'not a JSON object' };
  if (v.format !== 1) return { ok: false, why: `format ${JSON.stringify(v.format)} is not 1` };
  if (typeof v.gateway !== 'string' || !isGatewayId(v.gateway)) return { ok: false, why: 'gateway is not a gateway id' };
  return { ok: true, value: v };
}

function encodeBounded(message: object, max: number, what: string): Buffer {
  const bytes = Buffer.from(JSON.stringify(message), 'utf8');
  if (bytes.length > max) throw new RangeError(`${what} of ${bytes.length} bytes is over ${max}`);
  return bytes;
}

export function encodeDesired(d: DesiredState): Buffer {
  return encodeBounded(d, MAX_DESIRED_BYTES, 'desired state');
}

/**
 * The outer shape of a desired state. Artifacts are passed on as they came (objects), for
 * verifyArtifact to judge: a bad artifact is a refusal the gateway reports, not a parse failure.
 */
export function parseDesired(payload: Buffer | string): Parsed<DesiredState> {
  const p = parseMessage(payload, MAX_DESIRED_BYTES);
  if (!p.ok) return p;
  const v = p.value;
  if (!isSerial(v.serial)) return { ok: false, why: 'serial is not a non-negative integer' };
  for (const f of ['release', 'config', 'rollback'] as const) {
    if (v[f] !== undefined && !isRecord(v[f])) return { ok: false, why: `${f} is not an artifact object` };
  }
  if (v.bundlePath !== undefined && (typeof v.bundlePath !== 'string' || !BUNDLE_PATH.test(v.bundlePath))) {
    return { ok: false, why: 'bundlePath is not /api/fleet/releases/<version>/bundle' };
  }
  if (v.release !== undefined && v.bundlePath === undefined) return { ok: false, why: 'a release comes with its bundlePath' };
  return { ok: true, value: v as unknown as DesiredState };
}

export function encodeReported(r: ReportedState): Buffer {
  return encodeBounded({ ...r, refused: r.refused.slice(-MAX_REPORTED_REFUSALS) }, MAX_REPORTED_BYTES, 'reported state');
}

export function parseReported(payload: Buffer | string): Parsed<ReportedState> {
  const p = parseMessage(payload, MAX_REPORTED_BYTES);
  if (!p.ok) return p;
  const v = p.value;
  if (!isShort(v.at, 40) || Number.isNaN(Date.parse(v.at as string))) return { ok: false, why: 'at is not an ISO time' };
  if (!Array.isArray(v.tags) || v.tags.length > 32 || !v.tags.every(isGroupTag)) {
    return { ok: false, why: `tags is not a list of at most 32 tags (${IDENTIFIER_RULE})` };
  }
  const running = v.running;
  if (!isRecord(running) || !isShort(running.version, 22) || !(running.configRevision === null || isSerial(running.configRevision))) {
    return { ok: false, why: 'running is not {version, configRevision}' };
  }
  if (!(v.desiredSerial === null || isSerial(v.desiredSerial))) return { ok: false, why: 'desiredSerial is not a non-negative integer or null' };
  if (v.update !== undefined) {
    const u = v.update;
    if (!isRecord(u)) return { ok: false, why: 'update is not an object' };
    if (u.kind !== 'release' && u.kind !== 'config') return { ok: false, why: 'update.kind is not release or config' };
    if (!(isShort(u.target, 22) || isSerial(u.target))) return { ok: false, why: 'update.target is not a version or revision' };
    if (!STEPS.includes(u.step as UpdateStep)) return { ok: false, why: 'update.step is not a switch step' };
    if (!OUTCOMES.includes(u.outcome as UpdateOutcome)) return { ok: false, why: 'update.outcome is not an outcome' };
    if (u.reason !== undefined && !isShort(u.reason, 1000)) return { ok: false, why: 'update.reason is not a short string' };
    if (!isShort(u.at, 40)) return { ok: false, why: 'update.at is not a time' };
    if (u.bytes !== undefined && !isSerial(u.bytes)) return { ok: false, why: 'update.bytes is not a byte count' };
  }
  if (!Array.isArray(v.refused) || v.refused.length > MAX_REPORTED_REFUSALS) return { ok: false, why: `refused is not a list of at most ${MAX_REPORTED_REFUSALS}` };
  for (const r of v.refused) {
    if (!isRecord(r) || !['release', 'config', 'rollback'].includes(r.kind as string) || !isShort(r.target, 64) ||
      !REFUSAL_REASONS.includes(r.reason as RefusalReason) || !isShort(r.at, 40) || !isShort(r.why, 1000)) {
      return { ok: false, why: 'a refused entry is not {kind, target, reason, at, why}' };
    }
  }
  return { ok: true, value: v as unknown as ReportedState };
}
