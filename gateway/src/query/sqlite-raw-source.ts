import type { Database, Statement } from 'better-sqlite3';
import type { ReadingValue } from '@fieldmesh/device-sdk/reading';
import type { LoggedReading } from '../store/reading-log.js';
import type { RawCursor, RawReadingSource } from './raw-source.js';

/**
 * Raw range reads over the store's tables (schema v1 in store/schema.ts: `series(id, name, unit)`,
 * `readings(seq, sid, ts, kind, value)`). Needs an index on readings (sid, ts) — see
 * `ensureSeriesTimeIndex` — so a range is one index scan whose entries already come in (ts, seq)
 * order (the rowid, = seq, is the index's last column). A series name with several units has
 * several sids; those ranges are merged here.
 */
export class SqliteRawReadings implements RawReadingSource {
  private readonly sids: Statement;
  private readonly first: Statement;
  private readonly next: Statement;

  constructor(db: Database) {
    this.sids = db.prepare('SELECT id, unit FROM series WHERE name = ?');
    this.first = db.prepare('SELECT seq, ts, kind, value FROM readings WHERE sid = ? AND ts >= ? AND ts < ? ORDER BY ts, seq LIMIT ?').raw();
    this.next = db
      .prepare(
        `SELECT seq, ts, kind, value FROM readings
         WHERE sid = @sid AND ts < @to AND (ts > @ats OR (ts = @ats AND seq > @aseq)) AND ts >= @from
         ORDER BY ts, seq LIMIT @limit`,
      )
      .raw();
  }

  range(series: string, from: number, to: number, after: RawCursor | null, limit: number): LoggedReading[] {
    const sids = this.sids.all(series) as Array<{ id: number; unit: string }>;
    const out: LoggedReading[] = [];
    for (const { id, unit } of sids) {
      const rows = (
        after ? this.next.all({ sid: id, from, to, ats: after.ts, aseq: after.seq, limit }) : this.first.all(id, from, to, limit)
      ) as Array<[number, number, number, number | string]>;
      for (const [seq, ts, kind, raw] of rows) {
        const value: ReadingValue = kind === 1 ? raw === 1 : kind === 2 ? String(raw) : Number(raw);
        out.push(unit === '' ? { seq, series, ts, value } : { seq, series, ts, value, unit });
      }
    }
    if (sids.length > 1) {
      out.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
      out.length = Math.min(out.length, limit);
    }
    return out;
  }
}

/**
 * Creates the (sid, ts) index the range reads need, if missing. Costs one more B-tree insert per
 * appended reading; without it every raw query scans the whole log.
 */
export function ensureSeriesTimeIndex(db: Database): void {
  db.exec('CREATE INDEX IF NOT EXISTS readings_sid_ts ON readings (sid, ts)');
}
