import type { ReadingValue } from '@fieldmesh/device-sdk';
import { TIERS, type TierName } from '../rollups/config.js';
import type { Bucket } from '../rollups/bucket.js';
import { QueryError } from './errors.js';
import { QUERY_LIMITS, type QueryLimits, type ReadingsQuery } from './params.js';
import type { RawCursor, RawReadingSource } from './raw-source.js';

/** Where stepped queries read rollups from (the Rollups component: flushes, then reads). */
export interface RollupSource {
  range(tier: TierName, series: string, from: number, to: number): Bucket[];
}

export interface RawPage {
  series: string;
  from: number;
  to: number;
  readings: Array<{ ts: number; value: ReadingValue; unit?: string }>;
  /** Pass as `cursor` to get the next page; null on the last page. */
  next: string | null;
}

export interface StepPoint {
  /** Bucket start: a multiple of `step`. The point covers [ts, ts + step). */
  ts: number;
  min: number;
  max: number;
  avg: number;
  count: number;
  last: number;
}

export interface StepResult {
  series: string;
  from: number;
  to: number;
  step: number;
  /** What the points were computed from: raw readings, or the 1-min / 1-h rollups. */
  source: 'raw' | TierName;
  /** Buckets holding no numeric reading are left out. */
  points: StepPoint[];
}

/**
 * The rollup tier a step reads from: the widest tier whose width divides the step, so every tier
 * bucket falls wholly inside one step bucket and the answer is exact, the same as from raw data.
 * Other steps (under a minute, or e.g. 90 s) aggregate raw readings.
 */
export function tierForStep(step: number): 'raw' | TierName {
  if (step % TIERS.hour.widthMs === 0) return 'hour';
  if (step % TIERS.minute.widthMs === 0) return 'minute';
  return 'raw';
}

/**
 * Cursor: `<ts>.<seq>` of the last reading returned, base-36 for brevity. Opaque to clients; it
 * does not repeat the range, so a client must send the same series/from/to with it.
 */
export function encodeCursor(c: RawCursor): string {
  return `${c.ts.toString(36)}.${c.seq.toString(36)}`;
}

export function decodeCursor(text: string): RawCursor {
  const m = /^(-?[0-9a-z]{1,12})\.([0-9a-z]{1,12})$/.exec(text);
  const ts = m ? parseInt(m[1]!, 36) : NaN;
  const seq = m ? parseInt(m[2]!, 36) : NaN;
  if (!Number.isSafeInteger(ts) || !Number.isSafeInteger(seq)) {
    throw new QueryError('FM_ERR_QUERY_BAD_CURSOR', 'cursor', `'${text.slice(0, 40)}' is not a cursor from this API`);
  }
  return { ts, seq };
}

/**
 * `GET /api/readings`. Without `step`: raw readings with from ≤ ts < to in (ts, seq) order, one
 * page of `limit`. With `step`: one point per step-aligned bucket [k·step, (k+1)·step) that
 * overlaps [from, to) and holds data; each point aggregates its WHOLE bucket (so the first and
 * last may include readings just outside the range), which makes the answer independent of the
 * tier it is read from.
 */
export function queryReadings(
  q: ReadingsQuery,
  raw: RawReadingSource,
  rollups: RollupSource,
  /** Overrides the tier choice (tests, benchmarks). A tier must divide the step to be exact. */
  forceSource?: 'raw' | TierName,
  limits: QueryLimits = QUERY_LIMITS,
): RawPage | StepResult {
  if (q.step === undefined) {
    const after = q.cursor === undefined ? null : decodeCursor(q.cursor);
    // One more than asked tells whether another page exists without a count query.
    const got = q.from === q.to ? { readings: [] } : raw.range(q.series, q.from, q.to, after, q.limit + 1);
    const rows = got.readings;
    const more = rows.length > q.limit;
    if (more) rows.length = q.limit;
    const last = rows[rows.length - 1];
    // A source that stopped on its work budget gives a short page and where to go on from.
    const next = more && last ? encodeCursor(last) : got.stoppedAt ? encodeCursor(got.stoppedAt) : null;
    return {
      series: q.series,
      from: q.from,
      to: q.to,
      readings: rows.map((r) => (r.unit === undefined ? { ts: r.ts, value: r.value } : { ts: r.ts, value: r.value, unit: r.unit })),
      next,
    };
  }
  const step = q.step;
  const source = forceSource ?? tierForStep(step);
  const result: StepResult = { series: q.series, from: q.from, to: q.to, step, source, points: [] };
  if (q.from === q.to) return result;
  const start = Math.floor(q.from / step) * step;
  const end = Math.ceil(q.to / step) * step;
  let cur: StepPoint | undefined;
  let lastTs = -Infinity;
  let sum = 0;
  const emit = () => {
    if (cur) {
      cur.avg = sum / cur.count;
      result.points.push(cur);
    }
  };
  const addBucket = (bucket: number, b: { min: number; max: number; sum: number; count: number; last: number; lastTs: number }) => {
    const k = Math.floor(bucket / step) * step;
    if (!cur || cur.ts !== k) {
      emit();
      cur = { ts: k, min: b.min, max: b.max, avg: 0, count: 0, last: b.last };
      sum = 0;
      lastTs = -Infinity;
    }
    if (b.min < cur.min) cur.min = b.min;
    if (b.max > cur.max) cur.max = b.max;
    sum += b.sum;
    cur.count += b.count;
    if (b.lastTs >= lastTs) {
      cur.last = b.last;
      lastTs = b.lastTs;
    }
  };
  if (source !== 'raw') {
    for (const b of rollups.range(source, q.series, start, end)) addBucket(b.bucket, b);
  } else {
    let after: RawCursor | null = null;
    let scanned = 0;
    const began = performance.now();
    for (;;) {
      const got = raw.range(q.series, start, end, after, 10_000);
      const page = got.readings;
      scanned += page.length;
      if (scanned > limits.maxRawScan || performance.now() - began > limits.maxRawScanMs) {
        throw new QueryError(
          'FM_ERR_QUERY_RAW_SCAN',
          'step',
          `step ${step} reads raw readings and this range holds more than ${limits.maxRawScan} of them or takes over ${limits.maxRawScanMs} ms`,
        );
      }
      for (const r of page) {
        const v = typeof r.value === 'number' ? r.value : typeof r.value === 'boolean' ? (r.value ? 1 : 0) : NaN;
        if (Number.isFinite(v)) addBucket(r.ts, { min: v, max: v, sum: v, count: 1, last: v, lastTs: r.ts });
      }
      if (page.length === 10_000) {
        const l = page[page.length - 1]!;
        after = { ts: l.ts, seq: l.seq };
      } else if (got.stoppedAt) after = got.stoppedAt;
      else break;
    }
  }
  emit();
  return result;
}
