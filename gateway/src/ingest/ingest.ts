import { MAX_WIRE_TS_MS } from '@fieldmesh/protocol';
import { isDeviceId, SENSOR_NAME, silentLogger, systemClock, type Clock, type Logger, type Reading, type Timer } from '@fieldmesh/device-sdk';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import type { DeviceSeqMark, ReadingLog } from '../store/reading-log.js';
import { IngestError } from './errors.js';
import type { IngestSink } from './sink.js';
import { IngestStats } from './stats.js';

/** At most one log line per this many ms about failing commits (the count goes with it). */
const FAIL_LOG_INTERVAL_MS = 10_000;

/** What a group commit stored, for listeners (uplink drain, rules, rollups). */
export interface CommittedBatch {
  firstSeq: number;
  lastSeq: number;
  readings: readonly Reading[];
}

export interface IngestOptions {
  /** Ms a submission may wait for others to share its transaction; 0 = next event-loop turn (setImmediate). */
  commitIntervalMs: number;
  /** Readings that trigger a commit at once. */
  maxBatchReadings: number;
  clock?: Clock;
  logger?: Logger;
  stats?: IngestStats;
}

interface Pending {
  device: string;
  readings: readonly Reading[];
  seq: number | undefined;
  digest: string | undefined;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Longest string value accepted (matches the SenML codec's limit). */
const MAX_STRING_VALUE = 1024;
const MAX_UNIT = 32;

/**
 * Group commit: submissions arriving within `commitIntervalMs` (or until `maxBatchReadings`)
 * share one transaction, so one fsync acknowledges many readings. A submission's promise settles
 * only after its transaction committed: the MQTT PUBACK waits on it (INGEST.md).
 */
export class Ingest implements IngestSink {
  readonly stats: IngestStats;
  private readonly clock: Clock;
  private readonly log: Logger;
  private queue: Pending[] = [];
  private queuedReadings = 0;
  private timer: Timer | null = null;
  private immediate: ReturnType<typeof setImmediate> | null = null;
  private committing: Promise<void> | null = null;
  /** (device, seq) submitted but not yet committed: a resend joins the first one's fate. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly listeners: Array<(batch: CommittedBatch) => void> = [];
  private stopped = false;
  private readonly failLog: RateLimitedLog;
  private failedSinceLog = 0;

  constructor(
    private readonly readingLog: ReadingLog,
    private readonly opts: IngestOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    this.failLog = new RateLimitedLog(this.log, this.clock, { intervalMs: FAIL_LOG_INTERVAL_MS, countZero: false });
    this.stats = opts.stats ?? new IngestStats();
  }

  /** Called after each commit, synchronously; a throwing listener is logged, not fatal. */
  onCommitted(listener: (batch: CommittedBatch) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * `digest` (of the message bytes, from the broker) makes dedupe content-aware: the same
   * `deviceSeq` with other bytes is a device that restarted its counter, and is stored.
   */
  submit(device: string, readings: readonly Reading[], deviceSeq?: number, digest?: string): Promise<void> {
    if (this.stopped) return Promise.reject(new IngestError('store_failed', 'ingest is stopped'));
    try {
      validate(device, readings, deviceSeq);
    } catch (err) {
      return Promise.reject(err);
    }
    let key: string | undefined;
    if (deviceSeq !== undefined) {
      key = `${device}\u0000${deviceSeq}\u0000${digest ?? ''}`;
      const same = this.inFlight.get(key);
      if (same) {
        this.stats.duplicates++;
        return same;
      }
      if (this.readingLog.seenDeviceSeq?.(device, deviceSeq, digest)) {
        this.stats.duplicates++;
        return Promise.resolve();
      }
    }
    const promise = new Promise<void>((resolve, reject) => {
      this.queue.push({ device, readings, seq: deviceSeq, digest, resolve, reject });
    });
    if (key !== undefined) {
      this.inFlight.set(key, promise);
      const k = key;
      promise.then(
        () => this.inFlight.delete(k),
        () => this.inFlight.delete(k),
      );
    }
    this.queuedReadings += readings.length;
    if (this.queuedReadings >= this.opts.maxBatchReadings) this.flush();
    else if (this.timer === null && !this.immediate) {
      if (this.opts.commitIntervalMs === 0) {
        // Next turn of the event loop: every publish parsed from this round of socket reads
        // shares the commit, and whatever arrives while SQLite fsyncs (the loop is blocked)
        // shares the next one. Batches grow with load by themselves.
        this.immediate = setImmediate(() => {
          this.immediate = null;
          this.flush();
        });
      } else {
        this.timer = this.clock.setTimeout(() => {
          this.timer = null;
          this.flush();
        }, this.opts.commitIntervalMs);
      }
    }
    return promise;
  }

  /**
   * Commits everything queued, in one transaction. With a commit thread (`appendAsync`) one
   * commit is in flight at a time and the next batch gathers meanwhile: batches grow with load
   * and the event loop never waits for fsync.
   */
  flush(): void {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.immediate !== null) {
      clearImmediate(this.immediate);
      this.immediate = null;
    }
    if (this.committing !== null) return; // its completion flushes again
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    this.queuedReadings = 0;
    const readings: Reading[] = [];
    const marks: DeviceSeqMark[] = [];
    for (const p of batch) {
      for (const r of p.readings) readings.push(r);
      if (p.seq !== undefined) marks.push(p.digest === undefined ? { device: p.device, seq: p.seq } : { device: p.device, seq: p.seq, digest: p.digest });
    }
    if (this.readingLog.appendAsync) {
      this.committing = this.readingLog.appendAsync(readings, marks).then(
        (range) => this.settle(batch, readings, range),
        (err: unknown) => this.fail(batch, readings, err),
      );
      void this.committing.finally(() => {
        this.committing = null;
        if (this.queue.length > 0) this.flush();
      });
      return;
    }
    let range: { firstSeq: number; lastSeq: number };
    try {
      range = this.readingLog.append(readings, marks);
    } catch (err) {
      this.fail(batch, readings, err);
      return;
    }
    this.settle(batch, readings, range);
  }

  private fail(batch: Pending[], readings: Reading[], err: unknown): void {
    // Nothing of this transaction is stored, so nothing may be acknowledged: every device
    // resends. The loop goes on; the next commit may succeed (space freed, disk back).
    // Rate-limited: a full store (reject-new, disk full) fails every commit until space returns,
    // and the store counts each refusal per series anyway.
    this.failedSinceLog++;
    // `failedCommits` counts this commit and the ones suppressed since the last line.
    if (this.failLog.error('commit', { err, readings: readings.length, failedCommits: this.failedSinceLog }, 'group commit failed; nothing acknowledged')) {
      this.failedSinceLog = 0;
    }
    for (const p of batch) {
      this.stats.reject('store_failed');
      p.reject(new IngestError('store_failed', `commit failed: ${(err as Error).message}`));
    }
  }

  private settle(batch: Pending[], readings: Reading[], range: { firstSeq: number; lastSeq: number }): void {
    this.stats.ingested += readings.length;
    this.stats.commits++;
    for (const p of batch) p.resolve();
    if (readings.length > 0) {
      const committed: CommittedBatch = { firstSeq: range.firstSeq, lastSeq: range.lastSeq, readings };
      for (const l of this.listeners) {
        try {
          l(committed);
        } catch (err) {
          this.log.error({ err }, 'onCommitted listener threw');
        }
      }
    }
  }

  /** Refuses further submissions and resolves once everything queued is committed (or failed). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (;;) {
      this.flush();
      if (this.committing === null) break;
      await this.committing;
    }
  }
}

/** Everything a source hands in is checked here once: serial and MQTT alike may be hostile. */
function validate(device: string, readings: readonly Reading[], deviceSeq: number | undefined): void {
  if (!isDeviceId(device)) throw new IngestError('bad_topic', `device id ${JSON.stringify(device).slice(0, 80)} is not valid`);
  if (deviceSeq !== undefined && !(Number.isSafeInteger(deviceSeq) && deviceSeq >= 0)) {
    throw new IngestError('malformed_senml', `device sequence ${deviceSeq} is not a non-negative integer`);
  }
  const prefix = `${device}/`;
  for (const r of readings) {
    if (typeof r.series !== 'string' || !r.series.startsWith(prefix) || !SENSOR_NAME.test(r.series.slice(prefix.length))) {
      throw new IngestError('bad_topic', `series ${JSON.stringify(r.series).slice(0, 200)} is not a sensor of ${device}`);
    }
    const v = r.value;
    const ok =
      (typeof v === 'number' && Number.isFinite(v)) ||
      typeof v === 'boolean' ||
      (typeof v === 'string' && v.length <= MAX_STRING_VALUE);
    if (!ok) throw new IngestError('bad_value', `value of ${r.series} is not a finite number, boolean or short string`);
    if (!Number.isSafeInteger(r.ts)) throw new IngestError('bad_value', `ts of ${r.series} is not whole milliseconds`);
    // Refused before the PUBACK: stored, it would be acknowledged and then never go upstream.
    if (Math.abs(r.ts) >= MAX_WIRE_TS_MS) throw new IngestError('bad_time', `ts ${r.ts} of ${r.series} is past what the uplink carries (|ts| < 2^48 ms)`);
    if (r.unit !== undefined && (typeof r.unit !== 'string' || r.unit.length > MAX_UNIT)) {
      throw new IngestError('bad_value', `unit of ${r.series} is not a short string`);
    }
  }
}
