import { encodeAlertEvent } from '../alerts/event.js';
import type { AlertOutbox } from '../alerts/log.js';

/**
 * The priority lane: alert events from the AlertOutbox (gateway/src/alerts/log.ts), sent ahead of
 * bulk readings on `fm/g/<gateway>/alerts` (FORMAT.md §9). One message in flight at a time: alerts
 * are rare and small, so one round trip per burst is fast enough and keeps the outbox cursor
 * rule trivial (the cloud's ack names the last seq it committed; the cursor moves there).
 */
export interface AlertBatch {
  firstSeq: number;
  lastSeq: number;
  count: number;
  payload: Buffer;
  attempts: number;
  timer: unknown;
}

export class AlertLane {
  private current: AlertBatch | null = null;
  /** Events given up after repeated refusals (counted, never silent). */
  skipped = 0;

  constructor(
    readonly outbox: AlertOutbox,
    /** Events per message at most. Default 100 (≈ 25 kB of JSON). */
    private readonly maxEvents = 100,
  ) {}

  get inFlight(): AlertBatch | null {
    return this.current;
  }

  pending(): number {
    return this.outbox.pendingUpstreamCount();
  }

  /** The next message to send, or null while one is in flight or nothing waits. */
  take(epoch: string): AlertBatch | null {
    if (this.current) return null;
    const events = this.outbox.pendingUpstream(this.maxEvents).filter((e) => e.seq > 0);
    if (events.length === 0) return null;
    const body = `{"v":1,"epoch":${JSON.stringify(epoch)},"events":[${events.map(encodeAlertEvent).join(',')}]}`;
    this.current = { firstSeq: events[0]!.seq, lastSeq: events.at(-1)!.seq, count: events.length, payload: Buffer.from(body), attempts: 0, timer: null };
    return this.current;
  }

  /** The cloud committed events up to `lastSeq`. Returns the batch it settled, if any. */
  acked(lastSeq: number): AlertBatch | null {
    this.outbox.ackUpstream(lastSeq);
    const b = this.current;
    if (b && lastSeq >= b.lastSeq) {
      this.current = null;
      return b;
    }
    return null;
  }

  /** Gives up on the in-flight message (refused too often): counted, the cursor moves past it. */
  skip(): AlertBatch | null {
    const b = this.current;
    if (!b) return null;
    this.skipped += b.count;
    this.outbox.ackUpstream(b.lastSeq);
    this.current = null;
    return b;
  }

  /** Link down: the message is sent again from the outbox cursor. */
  reset(): AlertBatch | null {
    const b = this.current;
    this.current = null;
    return b;
  }
}
