import { systemClock, type Clock, type Timer, silentLogger, type Logger, type Reading } from '@fieldmesh/device-sdk';
import { addValue, emptyAggregate, mergeAggregate, type Aggregate, type Bucket } from './bucket.js';
import { TIER_NAMES, TIERS, validateRollupsConfig, type RollupsConfig, type TierName } from './config.js';
import type { LatestValue, RollupStore } from './store.js';

export interface RollupsOptions {
  store: RollupStore;
  /** Raw `rollups:` config section (validated here) or undefined for defaults. */
  config?: unknown;
  clock?: Clock;
  logger?: Logger;
}

/** The open bucket of one tier for one series. */
interface Open {
  bucket: number;
  agg: Aggregate;
}

interface SeriesState {
  open: Open[];
  latest: LatestValue | undefined;
  latestDirty: boolean;
}

export interface RollupsStats {
  readings: number;
  /** Values that are neither numbers nor booleans (strings), or not finite: no aggregate. */
  skippedNotNumeric: number;
  /** Readings older than a tier's retention horizon: not rolled up in that tier. */
  skippedTooOld: number;
  /** Readings of series beyond `maxSeries`. */
  skippedSeriesCap: number;
  lateReadings: number;
  flushes: number;
  flushFailures: number;
  bucketsWritten: number;
  bucketsDeleted: number;
  pending: number;
  series: number;
}

/**
 * Per-minute and per-hour min/max/avg/count/last per series, kept incrementally on ingest.
 *
 * Each reading updates the open bucket of its series in memory (O(1), no SQL). Everything in
 * memory is a *partial* aggregate: `flush()` merges it into the stored rows in one transaction
 * (UPSERT adding sums and counts) and starts the partials over. So:
 * - a bucket may be written several times (every flush while it is open), always exactly;
 * - a LATE reading (its bucket is no longer the open one, out of order or after a gap) is merged
 *   into its own bucket the same way, however late, as long as that bucket is inside the tier's
 *   retention; older ones are counted in `skippedTooOld`. Nothing is ever recomputed from raw data.
 * - `last` is the value with the greatest reading time (equal times: later arrival wins).
 * Booleans roll up as 1/0 (the average is the duty cycle); strings and non-finite numbers are
 * counted and skipped. Bucket times are reading times (device clocks), aligned to the epoch.
 * A crash loses at most the partials not yet flushed (`flushIntervalMs`).
 */
export class Rollups {
  readonly config: Readonly<RollupsConfig>;
  private readonly store: RollupStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly series = new Map<string, SeriesState>();
  /** Partials of buckets that are no longer open, by tier, then series, then bucket start. */
  private readonly closed: Record<TierName, Map<string, Map<number, Bucket>>> = { minute: new Map(), hour: new Map() };
  private pendingCount = 0;
  private flushTimer: Timer | undefined;
  private retentionTimer: Timer | undefined;
  private stopped = false;
  private readonly counts = {
    readings: 0,
    skippedNotNumeric: 0,
    skippedTooOld: 0,
    skippedSeriesCap: 0,
    lateReadings: 0,
    flushes: 0,
    flushFailures: 0,
    bucketsWritten: 0,
    bucketsDeleted: 0,
  };
  private readonly widths = TIER_NAMES.map((t) => TIERS[t].widthMs);

  constructor(opts: RollupsOptions) {
    this.config = validateRollupsConfig(opts.config);
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.logger = (opts.logger ?? silentLogger).child({ component: 'rollups' });
    for (const l of this.store.latest()) this.series.set(l.series, { open: [], latest: l, latestDirty: false });
  }

  /** Starts the flush and retention timers (not needed when the owner calls flush()/purge()). */
  start(): void {
    this.stopped = false;
    if (this.config.flushIntervalMs > 0) this.armFlush();
    this.armRetention();
  }

  /** Stops the timers and flushes what is in memory. */
  stop(): void {
    this.stopped = true;
    if (this.flushTimer) this.clock.clearTimeout(this.flushTimer);
    if (this.retentionTimer) this.clock.clearTimeout(this.retentionTimer);
    this.flushTimer = this.retentionTimer = undefined;
    this.flush();
  }

  /** Feeds committed readings. Never throws on bad input: it is counted. */
  add(readings: readonly Reading[]): void {
    for (const r of readings) this.addOne(r);
    if (this.pendingCount >= this.config.maxPending) this.flush();
  }

  addOne(r: Reading): void {
    this.counts.readings++;
    let s = this.series.get(r.series);
    if (!s) {
      if (this.series.size >= this.config.maxSeries) {
        this.counts.skippedSeriesCap++;
        return;
      }
      s = { open: [], latest: undefined, latestDirty: false };
      this.series.set(r.series, s);
    }
    const l = s.latest;
    if (!l) {
      s.latest = r.unit === undefined ? { series: r.series, ts: r.ts, value: r.value } : { series: r.series, ts: r.ts, value: r.value, unit: r.unit };
      s.latestDirty = true;
    } else if (r.ts >= l.ts) {
      // Updated in place: no allocation per reading on the ingest path.
      l.ts = r.ts;
      l.value = r.value;
      if (r.unit !== l.unit) {
        if (r.unit === undefined) delete l.unit;
        else l.unit = r.unit;
      }
      s.latestDirty = true;
    }
    const raw = r.value;
    const v = typeof raw === 'number' ? raw : typeof raw === 'boolean' ? (raw ? 1 : 0) : NaN;
    if (!Number.isFinite(v) || !Number.isFinite(r.ts)) {
      this.counts.skippedNotNumeric++;
      return;
    }
    for (let i = 0; i < this.widths.length; i++) {
      const width = this.widths[i]!;
      const bucket = Math.floor(r.ts / width) * width;
      let open = s.open[i];
      if (open === undefined) {
        open = s.open[i] = { bucket, agg: emptyAggregate() };
        this.pendingCount++;
      }
      if (open.bucket === bucket) {
        addValue(open.agg, v, r.ts);
        continue;
      }
      const tier = TIER_NAMES[i]!;
      if (bucket < open.bucket) {
        if (bucket < this.clock.now() - this.config.retentionMs[tier]) {
          this.counts.skippedTooOld++;
          continue;
        }
        this.counts.lateReadings++;
        this.addClosed(tier, r.series, bucket, v, r.ts);
        continue;
      }
      // A newer bucket opens: the old partial waits in `closed` for the next flush.
      if (open.agg.count > 0) this.retire(tier, r.series, open);
      open.bucket = bucket;
      open.agg = emptyAggregate();
      addValue(open.agg, v, r.ts);
    }
  }

  private closedOf(tier: TierName, series: string): Map<number, Bucket> {
    let m = this.closed[tier].get(series);
    if (!m) this.closed[tier].set(series, (m = new Map()));
    return m;
  }

  private retire(tier: TierName, series: string, open: Open): void {
    const closed = this.closedOf(tier, series);
    const prev = closed.get(open.bucket);
    if (prev) {
      // Only possible after a late reading re-created this bucket's partial; merge them.
      const a = open.agg;
      if (a.min < prev.min) prev.min = a.min;
      if (a.max > prev.max) prev.max = a.max;
      prev.sum += a.sum;
      prev.count += a.count;
      if (a.lastTs >= prev.lastTs) {
        prev.last = a.last;
        prev.lastTs = a.lastTs;
      }
      return;
    }
    closed.set(open.bucket, { series, bucket: open.bucket, ...open.agg });
    this.pendingCount++;
  }

  private addClosed(tier: TierName, series: string, bucket: number, v: number, ts: number): void {
    const closed = this.closedOf(tier, series);
    let b = closed.get(bucket);
    if (!b) {
      b = { series, bucket, ...emptyAggregate() };
      closed.set(bucket, b);
      this.pendingCount++;
    }
    addValue(b, v, ts);
  }

  /**
   * Writes every partial in one transaction and starts them over. On failure (disk full, locked)
   * nothing is lost from memory: the same partials are written by the next flush.
   */
  flush(): void {
    const buckets: Record<TierName, Bucket[]> = { minute: [], hour: [] };
    const latest: LatestValue[] = [];
    for (const tier of TIER_NAMES) for (const m of this.closed[tier].values()) for (const b of m.values()) buckets[tier].push(b);
    for (const [series, s] of this.series) {
      for (let i = 0; i < s.open.length; i++) {
        const o = s.open[i];
        if (o && o.agg.count > 0) buckets[TIER_NAMES[i]!].push({ series, bucket: o.bucket, ...o.agg });
      }
      if (s.latestDirty && s.latest) latest.push({ ...s.latest });
    }
    const n = buckets.minute.length + buckets.hour.length;
    if (n === 0 && latest.length === 0) return;
    try {
      this.store.write({ buckets, latest });
    } catch (err) {
      this.counts.flushFailures++;
      this.logger.error({ err, buckets: n }, 'rollup flush failed; keeping partials in memory for the next one');
      return;
    }
    this.counts.flushes++;
    this.counts.bucketsWritten += n;
    for (const tier of TIER_NAMES) this.closed[tier].clear();
    let open = 0;
    for (const s of this.series.values()) {
      for (const o of s.open) {
        if (!o) continue;
        o.agg = emptyAggregate();
        open++;
      }
      s.latestDirty = false;
    }
    this.pendingCount = open;
  }

  /** Deletes buckets past each tier's retention (in chunks, so no transaction runs long). */
  purge(): number {
    let total = 0;
    for (const tier of TIER_NAMES) {
      const before = this.clock.now() - this.config.retentionMs[tier];
      for (;;) {
        const n = this.store.deleteBefore(tier, before, 5000);
        total += n;
        if (n < 5000) break;
      }
    }
    this.counts.bucketsDeleted += total;
    return total;
  }

  /**
   * Buckets of one series with start in [from, to): the stored rows merged with what is still in
   * memory for that series (no flush: a query must not write every series' partials).
   */
  range(tier: TierName, series: string, from: number, to: number): Bucket[] {
    const stored = this.store.range(tier, series, from, to);
    const partials: Bucket[] = [];
    const open = this.series.get(series)?.open[TIER_NAMES.indexOf(tier)];
    if (open && open.agg.count > 0 && open.bucket >= from && open.bucket < to) partials.push({ series, bucket: open.bucket, ...open.agg });
    for (const b of this.closed[tier].get(series)?.values() ?? []) if (b.bucket >= from && b.bucket < to) partials.push(b);
    if (partials.length === 0) return stored;
    const byBucket = new Map<number, Bucket>();
    for (const b of stored) byBucket.set(b.bucket, b);
    for (const p of partials) {
      const b = byBucket.get(p.bucket);
      // Stored rows are fresh objects; partials are copied before merging into nothing.
      if (b) mergeAggregate(b, p);
      else byBucket.set(p.bucket, { ...p });
    }
    return [...byBucket.values()].sort((a, b) => a.bucket - b.bucket);
  }

  /** Latest value of every series seen (from memory; persisted on flush). */
  latest(): LatestValue[] {
    const out: LatestValue[] = [];
    for (const s of this.series.values()) if (s.latest) out.push({ ...s.latest });
    return out.sort((a, b) => (a.series < b.series ? -1 : a.series > b.series ? 1 : 0));
  }

  latestOf(series: string): LatestValue | undefined {
    const l = this.series.get(series)?.latest;
    return l && { ...l };
  }

  stats(): RollupsStats {
    return { ...this.counts, pending: this.pendingCount, series: this.series.size };
  }

  private armFlush(): void {
    this.flushTimer = this.clock.setTimeout(() => {
      this.flush();
      if (!this.stopped) this.armFlush();
    }, this.config.flushIntervalMs);
    this.flushTimer.unref?.();
  }

  private armRetention(): void {
    this.retentionTimer = this.clock.setTimeout(() => {
      try {
        this.purge();
      } catch (err) {
        this.logger.error({ err }, 'rollup retention failed; retrying at the next check');
      }
      if (!this.stopped) this.armRetention();
    }, this.config.retentionCheckMs);
    this.retentionTimer.unref?.();
  }
}
