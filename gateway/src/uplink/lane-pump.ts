import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import type { Clock, Logger } from '@fieldmesh/device-sdk';
import { decodeAck, uplinkTopics } from '@fieldmesh/protocol';
import type { AlertOutbox } from '../alerts/log.js';
import type { StateSeries } from './state-compaction.js';
import { AlertLane } from './alert-lane.js';
import { BulkLane } from './bulk-lane.js';
import { ByteRateCap } from './byte-rate-cap.js';
import { DrainMeter } from './drain-meter.js';
import { SendWindow } from './send-window.js';
import type { LinkSession } from './uplink-link.js';
import type { ResolvedUplinkOptions } from './uplink-options.js';

export interface LanePumpHost {
  clock: Clock;
  logger: Logger;
  /** The current link session; null while down. */
  session: () => LinkSession | null;
  /** True while the uplink is online (the pump sends only then). */
  online: () => boolean;
  /** The link session's generation: timers of an older session do nothing. */
  generation: () => number;
}

/**
 * The two lanes, bulk-lane.ts (readings) and alert-lane.ts (priority), and the pump that shares
 * one send window (AIMD) and one byte cap between them. It sends only in the host's current
 * session; the host (uplink.ts) owns the link's life cycle and tells the pump when it changes.
 */
export class LanePump {
  readonly sendWindow: SendWindow;
  readonly drain: DrainMeter;
  readonly bulk: BulkLane;
  readonly alertLane: AlertLane | null;
  /** Bytes published on either lane. */
  bytesSent = 0;
  private readonly cap: ByteRateCap | null;
  /** Priority messages sent since the last bulk batch (the weighted share). */
  private priorityRun = 0;
  private capTimer: unknown = null;
  private retryTimer: unknown = null;
  private pumpScheduled = false;
  private pumping = false;
  /** Cloud acks received on either lane: evidence the cloud commits this gateway's data (see BulkLane `refused`). */
  private acksSeen = 0;
  /** A failing reading log fails every pump: one line a minute. */
  private readonly storeErrorLog: RateLimitedLog;

  constructor(
    private readonly o: ResolvedUplinkOptions,
    stateSeries: StateSeries,
    alerts: AlertOutbox | undefined,
    private readonly host: LanePumpHost,
  ) {
    const clock = host.clock;
    this.storeErrorLog = new RateLimitedLog(host.logger, clock, { intervalMs: 60_000, countZero: false });
    this.sendWindow = new SendWindow(o.maxInFlight);
    // A quarter second of burst: a metered link sees the cap held over any second, not just on average.
    this.cap = o.maxBytesPerSecond > 0 ? new ByteRateCap(clock, o.maxBytesPerSecond, Math.max(1, Math.floor(o.maxBytesPerSecond / 4))) : null;
    this.drain = new DrainMeter(clock);
    this.bulk = new BulkLane({
      clock,
      logger: host.logger,
      log: o.log,
      gatewayId: o.gatewayId,
      maxBatchBytes: o.maxBatchBytes,
      ...(o.sign ? { sign: o.sign } : {}),
      ackTimeoutMs: o.ackTimeoutMs,
      maxRefusals: o.maxRefusals,
      backoffMinMs: o.backoffMinMs,
      backoffMaxMs: o.backoffMaxMs,
      stateSeries,
      sendWindow: this.sendWindow,
      drain: this.drain,
      hasSession: () => host.session() !== null,
      publish: (payload) => this.publishCounted(uplinkTopics.batch(o.gatewayId), payload),
      generation: host.generation,
      acksSeen: () => this.acksSeen,
      pump: () => this.pump(),
      storeTrouble: (err) => this.storeTrouble(err),
    });
    this.alertLane = alerts
      ? new AlertLane(alerts, {
          clock,
          logger: host.logger,
          ackTimeoutMs: o.ackTimeoutMs,
          maxRefusals: o.maxRefusals,
          backoffMinMs: o.backoffMinMs,
          backoffMaxMs: o.backoffMaxMs,
          publish: (payload) => this.publishCounted(uplinkTopics.alerts(o.gatewayId), payload),
          generation: host.generation,
          lost: () => this.sendWindow.lost(),
          acksSeen: () => this.acksSeen,
          pump: () => this.pump(),
        })
      : null;
  }

  /**
   * A session came up: everything past the watermark goes (again) at the next pump; the cloud
   * dedupes what it already has. The host pumps once its own messages (status) are out.
   */
  sessionUp(reconnect: boolean): void {
    // A reconnect is a loss signal: the path may have changed (another bridge, a thinner link).
    if (reconnect) this.sendWindow.lost();
    this.resetLanes();
    this.bulk.rewind();
  }

  /** The session went down: what was in flight is gone with it. */
  sessionDown(): void {
    this.clearTimer('capTimer');
    this.resetLanes();
  }

  /** The uplink stops: no timer of the pump may fire again. */
  stop(): void {
    this.clearTimer('retryTimer');
    this.clearTimer('capTimer');
    this.resetLanes();
  }

  /** Coalesces wake-ups (each ingest commit) into one pump. */
  schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** A message on the ack topic: to the lane it answers. */
  ack(payload: Buffer): void {
    let ack;
    try {
      ack = decodeAck(payload);
    } catch (err) {
      this.host.logger.warn({ err: (err as Error).message }, 'malformed ack ignored');
      return;
    }
    // An ack for another epoch is about an old database of this gateway id: not ours.
    if (ack.epoch !== undefined && ack.epoch !== this.o.log.epoch) return;
    if (ack.ok) this.acksSeen++;
    if (ack.lane === 'alerts') return this.alertLane?.answer(ack);
    this.bulk.answer(ack);
  }

  private resetLanes(): void {
    this.bulk.reset();
    this.alertLane?.reset();
  }

  private clearTimer(key: 'retryTimer' | 'capTimer'): void {
    const t = this[key];
    if (t !== null) this.host.clock.clearTimeout(t as never);
    this[key] = null;
  }

  /**
   * Fills the send window: alerts first (the priority lane), bulk readings from the log, at most
   * `priorityShare` priority messages per bulk batch while bulk waits, all under the byte cap.
   * Synchronous between reads: SQLite reads are short.
   */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.host.online() && this.host.session()) {
        if (this.capped()) break;
        const bulkRoom = this.bulk.inFlight < this.sendWindow.limit;
        if (this.alertLane && (this.priorityRun < this.o.priorityShare || !bulkRoom)) {
          if (this.alertLane.sendNext(this.o.log.epoch)) {
            this.priorityRun++;
            continue;
          }
        }
        if (!bulkRoom) break;
        const read = this.bulk.readNext(this.readLimit());
        if (read.length === 0) {
          // Bulk is idle: the share does not apply, priority may go on.
          if (this.priorityRun > 0 && this.alertLane?.inFlight === null && this.alertLane.pending() > 0) {
            this.priorityRun = 0;
            continue;
          }
          break;
        }
        this.priorityRun = 0;
        this.bulk.sendReadings(read);
      }
    } catch (err) {
      // The log failed (disk error, closed under us): the loop does not crash; it retries later.
      this.storeTrouble(err as Error);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Readings per read. Under a byte cap, about a quarter second of the cap's worth (from the
   * bytes per reading seen so far), so the cap's debt (one batch) and hence its short-term
   * overshoot stay small; otherwise `batchReadings`.
   */
  private readLimit(): number {
    const perReading = this.bulk.bytesPerReading;
    if (!this.cap || perReading <= 0) return this.cap ? Math.min(this.o.batchReadings, 100) : this.o.batchReadings;
    return Math.max(1, Math.min(this.o.batchReadings, Math.floor(this.cap.burstBytes / perReading)));
  }

  /** True (and a pump scheduled for when tokens return) while the byte cap is in debt. */
  private capped(): boolean {
    if (!this.cap) return false;
    const wait = this.cap.waitMs();
    if (wait === 0) return false;
    if (this.capTimer === null) {
      const t = this.host.clock.setTimeout(() => {
        this.capTimer = null;
        this.pump();
      }, wait);
      t.unref?.();
      this.capTimer = t;
    }
    return true;
  }

  /** Publishes in the current session, counting the bytes against the stats and the cap. */
  private publishCounted(topic: string, payload: Buffer): void {
    const client = this.host.session();
    if (!client) return;
    this.bytesSent += payload.length;
    this.cap?.spend(payload.length);
    client.publish(topic, payload, { qos: 1 });
  }

  private storeTrouble(err: Error): void {
    this.storeErrorLog.error('store', { err: err.message }, 'reading log failed under the uplink; retrying in 1 s');
    if (this.retryTimer !== null || !this.host.online()) return;
    const t = this.host.clock.setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, 1000);
    t.unref?.();
    this.retryTimer = t;
  }
}
