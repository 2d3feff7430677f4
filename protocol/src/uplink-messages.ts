import { ProtocolError } from './errors.js';
import { EPOCH_RULE, isEpoch, isGatewayId } from './identifiers.js';

/**
 * Topics and the small JSON messages of the uplink protocol besides the batch itself
 * (FORMAT.md §6–§7). The batch is binary; acks and status are rare, so JSON keeps them readable
 * in any MQTT client.
 */
export const uplinkTopics = {
  batch: (gatewayId: string) => `fm/g/${gatewayId}/batch`,
  ack: (gatewayId: string) => `fm/g/${gatewayId}/ack`,
  status: (gatewayId: string) => `fm/g/${gatewayId}/status`,
  /** The priority lane: alert events (FORMAT.md §9). */
  alerts: (gatewayId: string) => `fm/g/${gatewayId}/alerts`,
} as const;

/** Matches `fm/g/<gateway>/<kind>` with a gateway id (§1.1) as `<gateway>`; returns null for anything else. */
export function parseUplinkTopic(topic: string): { gatewayId: string; kind: string } | null {
  const parts = topic.split('/');
  if (parts.length !== 4 || parts[0] !== 'fm' || parts[1] !== 'g' || !isGatewayId(parts[2]) || !parts[3]) return null;
  return { gatewayId: parts[2], kind: parts[3] };
}

/**
 * The cloud's answer to one batch. `ok: true` is sent only after the batch's transaction
 * committed durably; it names the exact seq range committed (the gateway's AckWatermark moves
 * over contiguous acked ranges only). `ok: false` is a refusal: nothing of the batch was stored.
 */
export type AckMessage =
  | { v: 1; ok: true; epoch: string; firstSeq: number; lastSeq: number; stored: number; duplicates: number; lane?: 'alerts' }
  | { v: 1; ok: false; epoch?: string; firstSeq?: number; lastSeq?: number; code: string; reason: string; lane?: 'alerts' };

export function encodeAck(msg: AckMessage): Buffer {
  return Buffer.from(JSON.stringify(msg));
}

const isSeq = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 1;

export function decodeAck(payload: Uint8Array): AckMessage {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new ProtocolError('FM_ERR_ACK_MALFORMED', 'not JSON');
  }
  if (typeof m !== 'object' || m === null || m.v !== 1) throw new ProtocolError('FM_ERR_ACK_MALFORMED', 'missing v: 1');
  if (m.ok === true) {
    if (!isEpoch(m.epoch) || !isSeq(m.firstSeq) || !isSeq(m.lastSeq) || m.lastSeq < m.firstSeq) {
      throw new ProtocolError('FM_ERR_ACK_MALFORMED', `ack needs an epoch (${EPOCH_RULE}), firstSeq <= lastSeq`);
    }
    const stored = typeof m.stored === 'number' ? m.stored : 0;
    const duplicates = typeof m.duplicates === 'number' ? m.duplicates : 0;
    const ok: AckMessage = { v: 1, ok: true, epoch: m.epoch, firstSeq: m.firstSeq, lastSeq: m.lastSeq, stored, duplicates };
    if (m.lane === 'alerts') ok.lane = 'alerts';
    return ok;
  }
  if (m.ok === false) {
    const out: AckMessage = { v: 1, ok: false, code: typeof m.code === 'string' ? m.code : 'unknown', reason: typeof m.reason === 'string' ? m.reason : '' };
    if (m.epoch !== undefined) {
      // Refused, not read as a nack without an epoch: that one would match a batch by its seqs alone.
      if (!isEpoch(m.epoch)) throw new ProtocolError('FM_ERR_ACK_MALFORMED', `nack epoch is not ${EPOCH_RULE}`);
      out.epoch = m.epoch;
    }
    if (m.lane === 'alerts') out.lane = 'alerts';
    if (isSeq(m.firstSeq) && isSeq(m.lastSeq)) {
      out.firstSeq = m.firstSeq;
      out.lastSeq = m.lastSeq;
    }
    return out;
  }
  throw new ProtocolError('FM_ERR_ACK_MALFORMED', 'ok must be true or false');
}

/** Retained on fm/g/<gateway>/status; the last will carries the same shape with online: false. */
export interface GatewayStatus {
  v: 1;
  online: boolean;
  /** Gateway wall time of this report (ms). */
  ts: number;
  epoch?: string;
  backlog?: number;
  oldestUnsentAgeMs?: number | null;
  ackedSeq?: number;
  batchesSent?: number;
  batchesAcked?: number;
  batchesRefused?: number;
  quarantined?: number;
  [extra: string]: unknown;
}
