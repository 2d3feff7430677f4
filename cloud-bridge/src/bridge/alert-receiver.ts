import type { Clock } from '@fieldmesh/device-sdk';
import { type AckMessage, EPOCH_RULE, isEpoch } from '@fieldmesh/protocol';
import type { CloudErrorCode } from '../errors.js';
import type { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import type { AckSender } from './batch-receiver.js';
import type { SqliteAlertStore, StoredAlert } from './alert-store.js';

/** Largest alerts message accepted: 100 events of a few hundred bytes, with margin. */
export const MAX_ALERTS_MESSAGE_BYTES = 256 * 1024;
const MAX_EVENTS = 1000;

export interface AlertReceiverStats {
  messages: number;
  stored: number;
  duplicates: number;
  refused: number;
}

const str = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
const seqOk = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

/**
 * The receiving end of the priority lane (`fm/g/<gateway>/alerts`, FORMAT.md §9): validate every
 * event (hostile input), commit them durably, then ack with `lane: "alerts"` so the gateway's
 * AlertOutbox cursor moves; then hand each event to the live feed. A bad message is nacked,
 * counted and logged rate-limited.
 */
export class AlertReceiver {
  readonly stats: AlertReceiverStats = { messages: 0, stored: 0, duplicates: 0, refused: 0 };

  constructor(
    private readonly store: SqliteAlertStore,
    private readonly sendAck: AckSender,
    private readonly clock: Clock,
    private readonly throttled: RateLimitedLog,
    private readonly live: (gateway: string, event: Record<string, unknown>) => void = () => {},
  ) {}

  async receive(gatewayId: string, payload: Buffer): Promise<void> {
    this.stats.messages++;
    let parsed: { epoch: string; events: StoredAlert[]; raw: Array<Record<string, unknown>> };
    try {
      parsed = this.parse(gatewayId, payload);
    } catch (err) {
      this.stats.refused++;
      this.throttled.warn(`alerts:${gatewayId}`, { gateway: gatewayId, err: (err as Error).message }, 'alerts message refused');
      const head = tryHead(payload);
      await this.ack(gatewayId, { v: 1, ok: false, lane: 'alerts', code: 'FM_ERR_CLOUD_ALERTS' satisfies CloudErrorCode, reason: (err as Error).message.slice(0, 300), ...head });
      return;
    }
    let result;
    try {
      result = this.store.commit(parsed.events, this.clock.now());
    } catch (err) {
      // Not the message's fault: stay silent, the gateway resends after its ack timeout.
      this.throttled.warn(`alerts-store:${gatewayId}`, { gateway: gatewayId, err: (err as Error).message }, 'alert commit failed');
      return;
    }
    this.stats.stored += result.stored;
    this.stats.duplicates += result.duplicates;
    const first = parsed.events[0]!.seq;
    const last = parsed.events.at(-1)!.seq;
    await this.ack(gatewayId, { v: 1, ok: true, lane: 'alerts', epoch: parsed.epoch, firstSeq: first, lastSeq: last, stored: result.stored, duplicates: result.duplicates });
    if (result.stored > 0) for (const e of parsed.raw) this.live(gatewayId, { ...e, gateway: gatewayId, epoch: parsed.epoch });
  }

  private parse(gatewayId: string, payload: Buffer): { epoch: string; events: StoredAlert[]; raw: Array<Record<string, unknown>> } {
    if (payload.length > MAX_ALERTS_MESSAGE_BYTES) throw new Error(`message of ${payload.length} bytes over ${MAX_ALERTS_MESSAGE_BYTES}`);
    const m = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    if (typeof m !== 'object' || m === null || m.v !== 1) throw new Error('missing v: 1');
    if (!isEpoch(m.epoch)) throw new Error(`epoch must be ${EPOCH_RULE}`);
    if (!Array.isArray(m.events) || m.events.length === 0 || m.events.length > MAX_EVENTS) throw new Error(`events must be a list of 1..${MAX_EVENTS}`);
    const events: StoredAlert[] = [];
    let prev = 0;
    for (const e of m.events as Array<Record<string, unknown>>) {
      if (typeof e !== 'object' || e === null || e.v !== 1) throw new Error('event without v: 1');
      if (!seqOk(e.seq) || e.seq <= prev) throw new Error('event seqs must be increasing integers ≥ 1');
      prev = e.seq;
      if (e.gateway !== undefined && e.gateway !== gatewayId) throw new Error(`event names gateway ${JSON.stringify(String(e.gateway).slice(0, 64))}`);
      for (const k of ['type', 'rule', 'series', 'condition', 'severity']) if (!str(e[k], 256)) throw new Error(`event ${e.seq}: ${k} must be a string ≤ 256`);
      if (!str(e.reason, 1024)) throw new Error(`event ${e.seq}: reason must be a string ≤ 1024`);
      if (typeof e.ts !== 'number' || !Number.isSafeInteger(e.ts)) throw new Error(`event ${e.seq}: ts must be an integer`);
      if (e.value !== null && (typeof e.value !== 'number' || !Number.isFinite(e.value))) throw new Error(`event ${e.seq}: value must be a number or null`);
      const alertId = typeof e.alertId === 'number' && Number.isSafeInteger(e.alertId) ? e.alertId : 0;
      events.push({ gateway: gatewayId, epoch: m.epoch, seq: e.seq, alertId, type: e.type as string, rule: e.rule as string, series: e.series as string, condition: e.condition as string, severity: e.severity as string, value: e.value as number | null, ts: e.ts, reason: e.reason as string });
    }
    return { epoch: m.epoch, events, raw: m.events as Array<Record<string, unknown>> };
  }

  private async ack(gatewayId: string, ack: AckMessage): Promise<void> {
    try {
      await this.sendAck(gatewayId, ack);
    } catch (err) {
      this.throttled.warn(`alerts-ack:${gatewayId}`, { gateway: gatewayId, err: (err as Error).message }, 'alerts ack publish failed');
    }
  }
}

/** Names the message in a nack when its header fields are readable. */
function tryHead(payload: Buffer): { epoch?: string; firstSeq?: number; lastSeq?: number } {
  try {
    const m = JSON.parse(payload.toString('utf8')) as { epoch?: unknown; events?: Array<{ seq?: unknown }> };
    const first = m.events?.[0]?.seq;
    const last = m.events?.at(-1)?.seq;
    if (isEpoch(m.epoch) && seqOk(first) && seqOk(last)) return { epoch: m.epoch, firstSeq: first, lastSeq: last };
  } catch {
    /* unreadable: no names */
  }
  return {};
}
