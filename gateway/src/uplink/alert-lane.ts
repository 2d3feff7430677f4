import type { Clock, Logger } from '@fieldmesh/device-sdk';
import { encodeAlertEvent } from '../alerts/event.js';
import type { AlertOutbox } from '../alerts/log.js';
import type { AckMessage } from '@fieldmesh/protocol';

/** One alerts message in flight. */
export interface AlertBatch {
  firstSeq: number;
  lastSeq: number;
  count: number;
  payload: Buffer;
  attempts: number;
  timer: unknown;
}

/** What the lane needs of the uplink that carries it. */
export interface AlertLaneHost {
  clock: Clock;
  logger: Logger;
  ackTimeoutMs: number;
  maxRefusals: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Publishes on `fm/g/<gateway>/alerts` in the current session (counts bytes, spends the cap). */
  publish(payload: Buffer): void;
  /** The link session's generation: timers of an older session do nothing. */
  generation(): number;
  /** A loss signal for the send window (timeout, nack). */
  lost(): void;
  /** Cloud acks seen so far (any lane): evidence the cloud commits this gateway's data. */
  acksSeen(): number;
  /** The lane has room again: fill the window. */
  pump(): void;
}

export interface AlertLaneStats {
  alertsSent: number;
  alertsAcked: number;
  /** Events given up after repeated refusals (counted, never silent). */
  alertsSkipped: number;
  timedOut: number;
  refused: number;
}

/**
 * The priority lane: alert events from the AlertOutbox (gateway/src/alerts/log.ts), sent ahead of
 * bulk readings on `fm/g/<gateway>/alerts` (FORMAT.md §9). One message in flight at a time: alerts
 * are rare and small, so one round trip per burst is fast enough and keeps the outbox cursor
 * rule trivial (the cloud's ack names the last seq it committed; the cursor moves there).
 * Silence resends after the ack timeout; a refusal resends after a growing delay, and a message
 * refused `maxRefusals` times (once the cloud has acked something) is skipped and counted.
 */
export class AlertLane {
  private current: AlertBatch | null = null;
  readonly stats: AlertLaneStats = { alertsSent: 0, alertsAcked: 0, alertsSkipped: 0, timedOut: 0, refused: 0 };

  constructor(
    readonly outbox: AlertOutbox,
    private readonly host: AlertLaneHost,
    /** Events per message at most. Default 100 (≈ 25 kB of JSON). */
    private readonly maxEvents = 100,
  ) {}

  get inFlight(): AlertBatch | null {
    return this.current;
  }

  pending(): number {
    return this.outbox.pendingUpstreamCount();
  }

  /** Sends the next message; false while one is in flight or nothing waits. */
  sendNext(epoch: string): boolean {
    if (this.current) return false;
    const events = this.outbox.pendingUpstream(this.maxEvents).filter((e) => e.seq > 0);
    if (events.length === 0) return false;
    const body = `{"v":1,"epoch":${JSON.stringify(epoch)},"events":[${events.map(encodeAlertEvent).join(',')}]}`;
    this.current = { firstSeq: events[0]!.seq, lastSeq: events.at(-1)!.seq, count: events.length, payload: Buffer.from(body), attempts: 0, timer: null };
    this.send(this.current);
    return true;
  }

  private send(a: AlertBatch): void {
    const h = this.host;
    this.stats.alertsSent += a.count;
    h.publish(a.payload);
    this.clearTimer(a);
    const gen = h.generation();
    const t = h.clock.setTimeout(() => {
      a.timer = null;
      if (gen !== h.generation() || this.current !== a) return;
      this.stats.timedOut++;
      h.lost();
      this.send(a);
    }, h.ackTimeoutMs);
    t.unref?.();
    a.timer = t;
  }

  private clearTimer(a: AlertBatch | null): void {
    if (a && a.timer !== null) this.host.clock.clearTimeout(a.timer as never);
    if (a) a.timer = null;
  }

  /** The cloud's answer on the alerts lane (an ack or nack with `lane: "alerts"`). */
  answer(ack: AckMessage): void {
    const a = this.current;
    const h = this.host;
    if (!a) return;
    if (ack.ok) {
      this.outbox.ackUpstream(ack.lastSeq);
      if (ack.lastSeq >= a.lastSeq) {
        this.clearTimer(a);
        this.current = null;
        this.stats.alertsAcked += a.count;
      }
      h.pump();
      return;
    }
    if (ack.firstSeq !== a.firstSeq || ack.lastSeq !== a.lastSeq) return;
    this.stats.refused++;
    h.lost();
    a.attempts++;
    this.clearTimer(a);
    if (a.attempts >= h.maxRefusals && h.acksSeen() > 0) {
      h.logger.warn({ firstSeq: a.firstSeq, lastSeq: a.lastSeq, code: ack.code }, 'alert events refused too often, skipped (counted)');
      this.stats.alertsSkipped += a.count;
      this.outbox.ackUpstream(a.lastSeq);
      this.current = null;
      h.pump();
      return;
    }
    const delay = Math.min(h.backoffMaxMs, h.backoffMinMs * 2 ** Math.min(a.attempts - 1, 20));
    const gen = h.generation();
    const t = h.clock.setTimeout(() => {
      a.timer = null;
      if (gen === h.generation() && this.current === a) this.send(a);
    }, delay);
    t.unref?.();
    a.timer = t;
  }

  /** Link down or stop: the message is sent again from the outbox cursor. */
  reset(): void {
    this.clearTimer(this.current);
    this.current = null;
  }
}
