import type { BatchSign } from '@fieldmesh/protocol';
import type { Clock, Logger } from '@fieldmesh/device-sdk';
import type { LoggedReading, ReadingLog } from '../store/reading-log.js';
import { packBatches } from './batch-packer.js';
import { BatchWindow, type InFlightBatch } from './batch-window.js';
import type { DrainMeter } from './drain-meter.js';
import type { SendWindow } from './send-window.js';
import type { StateSeries } from './state-compaction.js';
import type { AckMessage } from '@fieldmesh/protocol';
import type { UplinkStats } from './uplink-stats.js';

export interface BulkLaneDeps {
  clock: Clock;
  logger: Logger;
  log: ReadingLog;
  gatewayId: string;
  maxBatchBytes: number;
  /** Signs each batch as its origin (protocol/src/batch-signature.ts). */
  sign?: BatchSign;
  ackTimeoutMs: number;
  maxRefusals: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  stateSeries: StateSeries;
  sendWindow: SendWindow;
  drain: DrainMeter;
  /** Whether a link session is open to publish in. */
  hasSession: () => boolean;
  /** Publishes a batch on the batch topic at QoS 1 in the current session (bytes counted by the caller). */
  publish: (payload: Buffer) => void;
  /** The link session's generation: timers of an older session do nothing. */
  generation: () => number;
  /** Cloud acks seen on either lane (evidence the cloud commits this gateway's data). */
  acksSeen: () => number;
  /** Fill the send window again (room was freed). */
  pump: () => void;
  /** The reading log failed: log it rate-limited and retry later. */
  storeTrouble: (err: Error) => void;
}

/** The bulk lane's share of UplinkStats (uplink-stats.ts documents each figure). */
export type BulkLaneStats = Pick<
  UplinkStats,
  'batchesSent' | 'batchesAcked' | 'batchesRefused' | 'batchesTimedOut' | 'batchesQuarantined' | 'readingsAcked' | 'readingsQuarantined' | 'readingsCompacted'
>;

/**
 * Bulk readings from the log to the cloud: read past the sent position, compact state series,
 * pack, publish, and on the cloud's answers ack, resend on timeout, or split and retry a refused
 * batch until a poison reading is isolated (FORMAT.md, UPLINK.md "Behaviour"). The window's
 * watermark rule (batch-window.ts) decides what the AckWatermark may pass.
 */
export class BulkLane {
  readonly stats: BulkLaneStats = {
    batchesSent: 0,
    batchesAcked: 0,
    batchesRefused: 0,
    batchesTimedOut: 0,
    batchesQuarantined: 0,
    readingsAcked: 0,
    readingsQuarantined: 0,
    readingsCompacted: 0,
  };
  private readonly window: BatchWindow;
  /** Highest seq read into the window; the next batch starts after it. */
  private sentSeq = 0;
  private bytesPerReading_ = 0;

  constructor(private readonly d: BulkLaneDeps) {
    this.window = new BatchWindow(d.log);
  }

  /** Batches published and not yet acked (or refused and waiting for their retry). */
  get inFlight(): number {
    return this.window.size;
  }

  /** Moving average of the encoding's bytes per reading (sizes reads under the byte cap); 0 before the first batch. */
  get bytesPerReading(): number {
    return this.bytesPerReading_;
  }

  /** Forgets every batch in flight (the session ended; their timers are cancelled). */
  reset(): void {
    this.window.reset((b) => this.clearBatchTimer(b));
  }

  /** A new session: everything past the watermark goes (again); the cloud dedupes what it already has. */
  rewind(): void {
    this.sentSeq = this.d.log.ackWatermark();
  }

  /** The next readings past the sent position, at most `limit`. Throws when the log fails. */
  readNext(limit: number): LoggedReading[] {
    return this.d.log.readAfter(this.sentSeq, limit);
  }

  /** Packs what `readNext` returned into batches, publishes them and settles the window. */
  sendReadings(read: LoggedReading[]): void {
    const readings = this.d.stateSeries.compact(read);
    this.stats.readingsCompacted += read.length - readings.length;
    for (const part of this.pack(readings)) {
      this.sentSeq = part.lastSeq;
      this.window.add(part);
      if (part.state === 'sent') this.send(part);
    }
    this.settle();
  }

  /** The cloud's answer on the bulk lane (the caller counted an ok in `acksSeen`). */
  answer(ack: AckMessage): void {
    if (ack.ok) {
      this.window.ackRange(ack.firstSeq, ack.lastSeq);
      try {
        this.settle();
      } catch (err) {
        this.d.storeTrouble(err as Error);
        return;
      }
      this.d.pump();
      return;
    }
    this.stats.batchesRefused++;
    if (ack.firstSeq === undefined || ack.lastSeq === undefined) return; // unattributable: the ack timeout covers it
    const b = this.window.find(ack.firstSeq, ack.lastSeq);
    if (b && b.state === 'sent') this.refused(b, ack.code);
  }

  private pack(readings: LoggedReading[]): InFlightBatch[] {
    return packBatches(readings, { gatewayId: this.d.gatewayId, epoch: this.d.log.epoch, maxBatchBytes: this.d.maxBatchBytes, ...(this.d.sign ? { sign: this.d.sign } : {}) }, (seq, err) =>
      this.d.logger.warn({ seq, err: err.message }, 'reading cannot be encoded, quarantined'),
    );
  }

  private send(b: InFlightBatch): void {
    if (!this.d.hasSession() || !b.payload) return;
    this.stats.batchesSent++;
    const per = b.payload.length / b.count;
    this.bytesPerReading_ = this.bytesPerReading_ <= 0 ? per : this.bytesPerReading_ * 0.8 + per * 0.2;
    // PUBACK only means the broker took it; the cloud's ack (answer) is what counts.
    this.d.publish(b.payload);
    this.clearBatchTimer(b);
    const gen = this.d.generation();
    const t = this.d.clock.setTimeout(() => {
      b.timer = null;
      if (gen !== this.d.generation() || b.state !== 'sent') return;
      // No answer is not a refusal (the cloud may be slow or its store down): resend, and never
      // quarantine for silence, or a cloud outage would throw data away.
      this.stats.batchesTimedOut++;
      this.d.sendWindow.lost();
      this.send(b);
    }, this.d.ackTimeoutMs);
    t.unref?.();
    b.timer = t;
  }

  private clearBatchTimer(b: InFlightBatch): void {
    if (b.timer !== null) this.d.clock.clearTimeout(b.timer as never);
    b.timer = null;
  }

  /**
   * A refusal (nack). The batch is resent after a growing delay (backoffMinMs doubling up to
   * backoffMaxMs), split in two while it holds several readings and the window has room, so a
   * poison reading is isolated in about log2(batch) rounds and only it is lost, not its
   * neighbours. A one-reading batch is quarantined after `maxRefusals` refusals, but only once
   * the cloud has acked something since the first refusal of its lineage: when the cloud refuses
   * everything (its own bug, a bad deploy), that is not the readings' fault and nothing is
   * thrown away; the uplink keeps retrying, slowly.
   */
  private refused(b: InFlightBatch, reason: string): void {
    b.attempts++;
    b.reason = reason;
    if (b.firstRefusalAcks < 0) b.firstRefusalAcks = this.d.acksSeen();
    this.clearBatchTimer(b);
    this.d.sendWindow.lost();
    if (b.count === 1 && b.attempts >= this.d.maxRefusals && this.d.acksSeen() > b.firstRefusalAcks) {
      this.d.logger.warn({ firstSeq: b.firstSeq, lastSeq: b.lastSeq, reason, attempts: b.attempts }, 'reading refused too often, quarantined');
      b.state = 'poison';
      b.payload = null;
      this.settle();
      this.d.pump();
      return;
    }
    const delay = Math.min(this.d.backoffMaxMs, this.d.backoffMinMs * 2 ** Math.min(b.attempts - 1, 20));
    const gen = this.d.generation();
    const t = this.d.clock.setTimeout(() => {
      b.timer = null;
      if (gen === this.d.generation() && b.state === 'sent') this.retry(b);
    }, delay);
    t.unref?.();
    b.timer = t;
  }

  private retry(b: InFlightBatch): void {
    const sending = this.window.all().filter((x) => x.state === 'sent').length;
    // At least 2, so a window halved to 1 by the refusals can still isolate the poison reading.
    if (b.count > 1 && sending < Math.max(2, this.d.sendWindow.limit)) {
      let readings: LoggedReading[];
      try {
        // The range may have gaps (state compaction): read all of it and compact again.
        readings = this.d.stateSeries.compact(this.d.log.readAfter(b.firstSeq - 1, b.lastSeq - b.firstSeq + 1).filter((r) => r.seq <= b.lastSeq));
      } catch (err) {
        this.d.storeTrouble(err as Error);
        return this.send(b);
      }
      if (readings.length > 1) {
        const half = Math.ceil(readings.length / 2);
        const parts = [...this.pack(readings.slice(0, half)), ...this.pack(readings.slice(half))];
        for (const p of parts) {
          // The halves carry their lineage's refusals, so isolating a poison reading counts.
          p.attempts = b.attempts;
          p.firstRefusalAcks = b.firstRefusalAcks;
          p.reason = b.reason;
        }
        this.window.replace(b, parts);
        for (const p of parts) if (p.state === 'sent') this.send(p);
        this.settle();
        return;
      }
    }
    this.send(b);
  }

  private settle(): void {
    const out = this.window.settle((b) => this.clearBatchTimer(b));
    this.stats.batchesAcked += out.acked;
    this.stats.readingsAcked += out.ackedReadings;
    this.d.sendWindow.acked(out.acked);
    this.d.drain.record(out.ackedReadings);
    this.stats.batchesQuarantined += out.quarantined;
    this.stats.readingsQuarantined += out.quarantinedReadings;
  }
}
