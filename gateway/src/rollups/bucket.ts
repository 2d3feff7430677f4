/**
 * One rollup bucket's aggregate. Keeping `sum` and `count` (not the average) and the time of the
 * last value makes two partial aggregates of the same bucket mergeable exactly, in any order:
 * this is what lets late readings and repeated flushes update a stored bucket without re-reading
 * raw data.
 */
export interface Aggregate {
  min: number;
  max: number;
  sum: number;
  count: number;
  /** Value of the reading with the greatest time; equal times: the one that arrived last. */
  last: number;
  lastTs: number;
}

export interface Bucket extends Aggregate {
  series: string;
  /** Bucket start, ms since the epoch, a multiple of the tier width. */
  bucket: number;
}

export function emptyAggregate(): Aggregate {
  return { min: Infinity, max: -Infinity, sum: 0, count: 0, last: NaN, lastTs: -Infinity };
}

export function addValue(a: Aggregate, v: number, ts: number): void {
  if (v < a.min) a.min = v;
  if (v > a.max) a.max = v;
  a.sum += v;
  a.count++;
  if (ts >= a.lastTs) {
    a.last = v;
    a.lastTs = ts;
  }
}

/** Merges `b` into `a`; `b` is the later arrival (wins `last` on equal times). */
export function mergeAggregate(a: Aggregate, b: Aggregate): void {
  if (b.count === 0) return;
  if (b.min < a.min) a.min = b.min;
  if (b.max > a.max) a.max = b.max;
  a.sum += b.sum;
  a.count += b.count;
  if (b.lastTs >= a.lastTs) {
    a.last = b.last;
    a.lastTs = b.lastTs;
  }
}
