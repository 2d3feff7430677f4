import type { LoggedReading, ReadingLog } from '../store/reading-log.js';

/** Position after the last reading of a page: readings are ordered by (ts, seq). */
export interface RawCursor {
  ts: number;
  seq: number;
}

export interface RawRange {
  readings: LoggedReading[];
  /**
   * Set when the source stopped on its work budget before reaching `to` or `limit`: every reading
   * up to this position was considered; continue after it. (A page may then be short, even empty.)
   */
  stoppedAt?: RawCursor;
}

/**
 * Raw readings of one series by time, for the query API. Implementations: SqliteRawReadings
 * (the gateway's reading log tables through a (ts, sid) index, with a work budget per call) and
 * LogScanRawSource (any ReadingLog, by scanning it: for tests and the in-memory log).
 */
export interface RawReadingSource {
  /**
   * Readings of `series` with from ≤ ts < to and (ts, seq) > `after` (when given), ordered by
   * (ts, seq), at most `limit`.
   */
  range(series: string, from: number, to: number, after: RawCursor | null, limit: number): RawRange;
}

/** Scans a whole ReadingLog per query: O(log size). Right for tests and small in-memory logs only. */
export class LogScanRawSource implements RawReadingSource {
  constructor(private readonly log: ReadingLog) {}

  range(series: string, from: number, to: number, after: RawCursor | null, limit: number): RawRange {
    const hits: LoggedReading[] = [];
    for (let seq = 0; ; ) {
      const page = this.log.readAfter(seq, 10_000);
      if (page.length === 0) break;
      for (const r of page) {
        if (r.series !== series || r.ts < from || r.ts >= to) continue;
        if (after && (r.ts < after.ts || (r.ts === after.ts && r.seq <= after.seq))) continue;
        hits.push(r);
      }
      seq = page[page.length - 1]!.seq;
    }
    hits.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
    return { readings: hits.slice(0, limit) };
  }
}
