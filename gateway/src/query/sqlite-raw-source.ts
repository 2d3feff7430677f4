import type { Database, Statement } from 'better-sqlite3';
import type { ReadingValue } from '@fieldmesh/device-sdk';
import type { LoggedReading } from '../store/reading-log.js';
import type { RawCursor, RawRange, RawReadingSource } from './raw-source.js';

export interface SqliteRawOptions {
  /** Work budget of one call, ms of wall time; past it the call returns what it has and where it
   * stopped (`RawRange.stoppedAt`), so one request never holds the event loop (which ingest
   * shares) for long. Default 25. */
  budgetMs?: number;
  /** First time window scanned, ms; each further window doubles, up to 6 h. Default 60,000. */
  firstWindowMs?: number;
}

const MAX_WINDOW_MS = 6 * 3_600_000;
const AFTER_ALL = Number.MAX_SAFE_INTEGER;

/**
 * Raw range reads over the store's tables (store/schema.ts: `series(id, name, unit)`,
 * `readings(seq, sid, ts, kind, value)`) through an index on readings (ts, sid).
 *
 * Why (ts, sid) and not (sid, ts): readings arrive roughly in time order, so (ts, sid) entries
 * are appended at the end of the index: a commit dirties a few index pages. A (sid, ts) index
 * takes one insert per series per commit in a different leaf page: with 1,000 interleaved series
 * it cut the log's append rate about tenfold (each 1,000-row commit rewrote ~1,000 index pages).
 * The price is at query time: a time window is scanned for all series, the sid test reading
 * only the index. Windows grow from `firstWindowMs` while a page is not full, and each call stops
 * at its work budget with a resume position, so a sparse series over a long range is paged
 * through in bounded steps rather than one long scan.
 */
export class SqliteRawReadings implements RawReadingSource {
  private readonly sids: Statement;
  private readonly window: Statement;
  private readonly sameTs: Statement;
  private readonly nextTs: Statement;
  private readonly budgetMs: number;
  private readonly firstWindowMs: number;

  constructor(db: Database, opts: SqliteRawOptions = {}) {
    this.budgetMs = opts.budgetMs ?? 25;
    this.firstWindowMs = opts.firstWindowMs ?? 60_000;
    this.sids = db.prepare('SELECT id, unit FROM series WHERE name = ?');
    // ORDER BY ts, sid, seq is the index order (sid is fixed), so LIMIT stops the scan. The cursor
    // is NOT folded into this WHERE as `ts > ? OR (ts = ? AND seq > ?)`: SQLite then took that
    // `ts > ?` as the range start and scanned the index from the cursor's time instead of `lo`
    // (measured: 175 ms instead of 1 ms for a 1-minute window late in a day). Readings at the
    // cursor's own time are read by `sameTs`; windows then start after it.
    this.window = db
      .prepare(
        `SELECT seq, ts, kind, value FROM readings INDEXED BY readings_ts_sid
         WHERE ts >= @lo AND ts < @hi AND sid = @sid ORDER BY ts, sid, seq LIMIT @limit`,
      )
      .raw();
    this.sameTs = db
      .prepare(
        `SELECT seq, ts, kind, value FROM readings INDEXED BY readings_ts_sid
         WHERE ts = @ts AND sid = @sid AND seq > @seq ORDER BY ts, sid, seq LIMIT @limit`,
      )
      .raw();
    // The first reading time (of any series) at or after a point: one index probe that lets the
    // scan jump over empty stretches, so `from=0` or a range spanning a long silence does not
    // walk decades of empty windows.
    this.nextTs = db.prepare('SELECT ts FROM readings INDEXED BY readings_ts_sid WHERE ts >= @lo AND ts < @to ORDER BY ts LIMIT 1').pluck();
  }

  range(series: string, from: number, to: number, after: RawCursor | null, limit: number): RawRange {
    const sids = this.sids.all(series) as Array<{ id: number; unit: string }>;
    const out: LoggedReading[] = [];
    if (sids.length === 0 || limit <= 0) return { readings: out };
    const started = performance.now();
    const take = (stmt: Statement, params: Record<string, number>): boolean => {
      const need = limit - out.length;
      const got: LoggedReading[] = [];
      for (const { id, unit } of sids) {
        const rows = stmt.all({ ...params, sid: id, limit: need }) as Array<[number, number, number, number | string]>;
        for (const [seq, ts, kind, raw] of rows) {
          const value: ReadingValue = kind === 1 ? raw === 1 : kind === 2 ? String(raw) : Number(raw);
          got.push(unit === '' ? { seq, series, ts, value } : { seq, series, ts, value, unit });
        }
      }
      if (sids.length > 1) got.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
      for (let i = 0; i < got.length && out.length < limit; i++) out.push(got[i]!);
      return out.length >= limit;
    };
    let lo = from;
    if (after) {
      if (after.ts >= to) return { readings: out };
      if (after.ts >= from && take(this.sameTs, { ts: after.ts, seq: after.seq })) return { readings: out };
      lo = Math.max(from, after.ts + 1);
    }
    let width = this.firstWindowMs;
    while (lo < to) {
      const next = this.nextTs.get({ lo, to }) as number | undefined;
      if (next === undefined) break;
      if (next > lo) {
        lo = next;
        width = this.firstWindowMs;
      }
      const hi = Math.min(to, lo + width);
      if (take(this.window, { lo, hi })) return { readings: out };
      lo = hi;
      if (lo < to && performance.now() - started > this.budgetMs) return { readings: out, stoppedAt: { ts: lo - 1, seq: AFTER_ALL } };
      width = Math.min(width * 2, MAX_WINDOW_MS);
    }
    return { readings: out };
  }
}

/**
 * Creates the (ts, sid) index the range reads need, if missing, and drops the (sid, ts) one an
 * earlier build made (see the class comment for why).
 */
export function ensureTimeIndex(db: Database): void {
  db.exec('DROP INDEX IF EXISTS readings_sid_ts; CREATE INDEX IF NOT EXISTS readings_ts_sid ON readings (ts, sid)');
}
