import type { CloudStore, ReadingCursor, ReadingQuery, StoredReading } from '../store/cloud-store.js';

/** Most buckets one decimated request may ask for: a wide screen has a few thousand pixel columns. */
export const MAX_BUCKETS = 10_000;
/**
 * Most readings read from the store for one decimated answer: 7 days of two readings a second.
 * Past it the answer says `truncated` and ends where the scan stopped, so a huge range costs a
 * bounded time instead of an unbounded one.
 */
export const MAX_SCANNED = 1_300_000;
const PAGE = 10_000;

export interface DecimatedReadings {
  readings: StoredReading[];
  step: number;
  /** Readings read from the store to make the answer. */
  scanned: number;
  /** True when MAX_SCANNED stopped the scan before `to`: the answer covers [from, the last reading's ts]. */
  truncated: boolean;
}

interface Bucket {
  first: StoredReading;
  last: StoredReading;
  min: StoredReading;
  max: StoredReading;
}

const numeric = (v: StoredReading['value']): number | null => (typeof v === 'number' ? (Number.isNaN(v) ? null : v) : typeof v === 'boolean' ? (v ? 1 : 0) : null);

/**
 * `/api/readings?…&step=MS`: the readings in [from, to), and of each `step`-wide bucket of each
 * (gateway, series) only its first, lowest, highest and last reading, the same choice the live
 * charts make per pixel column, so a spike survives any zoom. The points are real readings
 * (their ts, value, seq), at most four per bucket, oldest first. Text values keep first and last.
 */
export async function decimatedReadings(store: CloudStore, q: ReadingQuery & { from: number; to: number }, step: number, maxScanned = MAX_SCANNED): Promise<DecimatedReadings> {
  const buckets = new Map<string, Map<number, Bucket>>();
  let scanned = 0;
  let truncated = false;
  const take = (page: StoredReading[]) => {
    for (const r of page) {
      const key = `${r.gateway} ${r.series}`;
      let series = buckets.get(key);
      if (!series) buckets.set(key, (series = new Map()));
      const b = Math.floor((r.ts - q.from) / step);
      const cur = series.get(b);
      if (!cur) {
        series.set(b, { first: r, last: r, min: r, max: r });
        continue;
      }
      cur.last = r;
      const v = numeric(r.value);
      if (v === null) continue;
      const lo = numeric(cur.min.value);
      const hi = numeric(cur.max.value);
      if (lo === null || v < lo) cur.min = r;
      if (hi === null || v > hi) cur.max = r;
    }
    scanned += page.length;
  };
  // The range is read in time windows of about a page each: a store sorts what a query covers
  // before its LIMIT applies, so paging a whole week with a cursor would sort the rest of the week
  // for every page (quadratic). A window that overflows a page is continued from its last reading
  // with the window cut to the span that page covered; a sparse one doubles.
  const { after: _cursor, ...base } = q;
  let window = Math.max(1, Math.min(q.to - q.from, step * 4));
  let after: ReadingCursor | undefined;
  for (let t = q.from; t < q.to; ) {
    const end = Math.min(q.to, t + window);
    const page = await store.readings({ ...base, from: t, to: end, limit: PAGE, ...(after ? { after } : {}) });
    take(page);
    const last = page.at(-1);
    if (page.length === PAGE && last) {
      if (scanned >= maxScanned) {
        truncated = true;
        break;
      }
      window = Math.max(1, last.ts - t);
      after = { ts: last.ts, gateway: last.gateway, epoch: last.epoch, seq: last.seq };
      t = last.ts;
      continue;
    }
    after = undefined;
    t = end;
    if (page.length < PAGE / 4) window *= 2;
    if (scanned >= maxScanned && t < q.to) {
      truncated = true;
      break;
    }
  }
  const out: StoredReading[] = [];
  for (const series of buckets.values()) {
    for (const b of series.values()) {
      const picked = new Set([b.first, b.min, b.max, b.last]);
      out.push(...[...picked].sort(order));
    }
  }
  out.sort(order);
  return { readings: out, step, scanned, truncated };
}

/** The store's reading order: (ts, gateway, epoch, seq). */
function order(a: StoredReading, b: StoredReading): number {
  return a.ts - b.ts || (a.gateway < b.gateway ? -1 : a.gateway > b.gateway ? 1 : 0) || (a.epoch < b.epoch ? -1 : a.epoch > b.epoch ? 1 : 0) || a.seq - b.seq;
}
