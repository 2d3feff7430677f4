import { isReleaseVersion } from './release-version.js';
import type { Parsed } from './fleet-messages.js';

/**
 * Release bundles over the uplink connection (protocol/FLEET-FORMAT.md §4), for a gateway that
 * has no credential the cloud's HTTP API takes (a client certificate only). The gateway asks for
 * one byte range per request; the cloud answers each with the bytes or a refusal. Both never
 * throw on what arrives: anything else is refused with a reason the receiver counts.
 */
export const bundleTopics = {
  /** Gateway → cloud, QoS 1, not retained. A gateway publishes only its own. */
  get: (gatewayId: string) => `fm/g/${gatewayId}/fleet/bundle/get`,
  /** Cloud → gateway, QoS 1, not retained. Only the cloud publishes it; a gateway reads its own. */
  chunk: (gatewayId: string) => `fm/g/${gatewayId}/fleet/bundle/chunk`,
};

/** The most bytes one request may ask for (and one chunk carry). */
export const MAX_CHUNK_BYTES = 256 * 1024;
export const MAX_CHUNK_REQUEST_BYTES = 256;
/** Format, kind, version (length + 20), offset and total: the most a chunk adds to its bytes. */
const MAX_HEADER_BYTES = 1 + 1 + 1 + 20 + 6 + 6;
/** A refusal's `why`, UTF-8, is cut to this many bytes. */
const MAX_WHY_BYTES = 200;
/** Offsets and sizes are 48-bit big-endian: far past any bundle, and exact as JS numbers. */
const U48 = 6;

export interface ChunkRequest {
  format: 1;
  version: string;
  offset: number;
  length: number;
}

export type ChunkRefusalReason = 'unknown-release' | 'out-of-range' | 'bad-length' | 'malformed' | 'busy';
const REASONS: readonly ChunkRefusalReason[] = ['unknown-release', 'out-of-range', 'bad-length', 'malformed', 'busy'];

export type ChunkReply =
  | { kind: 'data'; version: string; offset: number; total: number; data: Buffer }
  | { kind: 'refusal'; version: string; offset: number; reason: ChunkRefusalReason; why: string };

export function encodeChunkRequest(r: Omit<ChunkRequest, 'format'>): Buffer {
  return Buffer.from(JSON.stringify({ format: 1, version: r.version, offset: r.offset, length: r.length }));
}

const isOffset = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v < 2 ** 48;

/**
 * Shape only: `length` is any positive integer here, so the cloud can refuse one over
 * MAX_CHUNK_BYTES as `bad-length` (and say so) rather than as malformed.
 */
export function parseChunkRequest(payload: Buffer): Parsed<ChunkRequest> {
  if (payload.length > MAX_CHUNK_REQUEST_BYTES) return { ok: false, why: `${payload.length} bytes, over the ${MAX_CHUNK_REQUEST_BYTES}-byte limit` };
  let v: unknown;
  try {
    v = JSON.parse(payload.toString());
  } catch {
    return { ok: false, why: 'not JSON' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, why: 'not a JSON object' };
  const r = v as Record<string, unknown>;
  if (r.format !== 1) return { ok: false, why: `format ${JSON.stringify(r.format)} is not 1` };
  if (!isReleaseVersion(r.version)) return { ok: false, why: 'version is not a release version' };
  if (!isOffset(r.offset)) return { ok: false, why: 'offset is not a byte offset' };
  if (!isOffset(r.length) || r.length === 0) return { ok: false, why: 'length is not a positive integer' };
  return { ok: true, value: { format: 1, version: r.version, offset: r.offset, length: r.length } };
}

function header(kind: 0 | 1, version: string, offset: number, extra: number): { buf: Buffer; at: number } {
  const v = Buffer.from(version, 'latin1').subarray(0, 20);
  const buf = Buffer.alloc(3 + v.length + U48 + extra);
  buf[0] = 1;
  buf[1] = kind;
  buf[2] = v.length;
  v.copy(buf, 3);
  buf.writeUIntBE(offset, 3 + v.length, U48);
  return { buf, at: 3 + v.length + U48 };
}

/** A chunk: the header, then the bytes themselves (no base64: MQTT payloads are binary). */
export function encodeChunk(version: string, offset: number, total: number, data: Uint8Array): Buffer {
  const { buf, at } = header(0, version, offset, U48 + data.length);
  buf.writeUIntBE(total, at, U48);
  buf.set(data, at + U48);
  return buf;
}

export function encodeChunkRefusal(version: string, offset: number, reason: ChunkRefusalReason, why: string): Buffer {
  const text = Buffer.from(why, 'utf8').subarray(0, MAX_WHY_BYTES);
  const { buf, at } = header(1, version, offset, 1 + text.length);
  buf[at] = REASONS.indexOf(reason) + 1;
  text.copy(buf, at + 1);
  return buf;
}

/** A chunk or refusal; `data` is a view into `payload` (no copy). */
export function parseChunk(payload: Buffer): Parsed<ChunkReply> {
  if (payload.length > MAX_HEADER_BYTES + MAX_CHUNK_BYTES) return { ok: false, why: `${payload.length} bytes, over the ${MAX_HEADER_BYTES + MAX_CHUNK_BYTES}-byte limit` };
  if (payload.length < 3) return { ok: false, why: 'shorter than a chunk header' };
  if (payload[0] !== 1) return { ok: false, why: `format ${payload[0]} is not 1` };
  const kind = payload[1];
  const n = payload[2]!;
  const at = 3 + n;
  if (payload.length < at + U48) return { ok: false, why: 'shorter than a chunk header' };
  const version = payload.subarray(3, at).toString('latin1');
  if (!isReleaseVersion(version)) return { ok: false, why: 'version is not a release version' };
  const offset = payload.readUIntBE(at, U48);
  if (kind === 0) {
    if (payload.length < at + 2 * U48) return { ok: false, why: 'shorter than a chunk header' };
    const total = payload.readUIntBE(at + U48, U48);
    if (payload.length - at - 2 * U48 > MAX_CHUNK_BYTES) return { ok: false, why: `more than ${MAX_CHUNK_BYTES} bytes of data` };
    return { ok: true, value: { kind: 'data', version, offset, total, data: payload.subarray(at + 2 * U48) } };
  }
  if (kind !== 1) return { ok: false, why: `kind ${kind} is neither 0 (data) nor 1 (refusal)` };
  const reason = REASONS[(payload[at + U48] ?? 0) - 1];
  if (reason === undefined) return { ok: false, why: 'unknown refusal reason' };
  const why = payload.subarray(at + U48 + 1, at + U48 + 1 + MAX_WHY_BYTES).toString('utf8');
  return { ok: true, value: { kind: 'refusal', version, offset, reason, why } };
}
