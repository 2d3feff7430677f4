import type { Database, Statement } from 'better-sqlite3';
import type { Bucket } from './bucket.js';
import { TIER_NAMES, TIERS, type TierName } from './config.js';
import type { LatestValue, RollupBatch, RollupStore } from './store.js';

/**
 * Rollup tables in the gateway's SQLite database (handle passed in; the store component owns the
 * connection and its pragmas). Tables are WITHOUT ROWID keyed by (series, bucket): a range query
 * for one series is one index range scan. A second index on bucket serves retention deletes.
 * `series_latest` keeps each series' newest value; `kind` keeps booleans apart from numbers.
 */
function schema(table: string): string {
  return `
CREATE TABLE IF NOT EXISTS ${table} (
  series  TEXT NOT NULL,
  bucket  INTEGER NOT NULL,
  min     REAL NOT NULL,
  max     REAL NOT NULL,
  sum     REAL NOT NULL,
  count   INTEGER NOT NULL,
  last    REAL NOT NULL,
  last_ts INTEGER NOT NULL,
  PRIMARY KEY (series, bucket)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ${table}_bucket ON ${table} (bucket);`;
}

const LATEST = `
CREATE TABLE IF NOT EXISTS series_latest (
  series TEXT PRIMARY KEY,
  ts     INTEGER NOT NULL,
  kind   TEXT NOT NULL CHECK (kind IN ('n', 'b', 's')),
  value  ANY,
  unit   TEXT
) WITHOUT ROWID;`;

interface TierStatements {
  upsert: Statement;
  range: Statement;
  purge: Statement;
}

export class SqliteRollupStore implements RollupStore {
  private readonly tiers = {} as Record<TierName, TierStatements>;
  private readonly upsertLatest: Statement;
  private readonly allLatest: Statement;
  private readonly tx: (batch: RollupBatch) => void;

  constructor(db: Database) {
    for (const tier of TIER_NAMES) db.exec(schema(TIERS[tier].table));
    db.exec(LATEST);
    for (const tier of TIER_NAMES) {
      const t = TIERS[tier].table;
      // SET expressions see the row as it was before the update (SQLite UPDATE semantics), so
      // `last_ts` on the right is the stored one. Equal times: the incoming (later) value wins.
      this.tiers[tier] = {
        upsert: db.prepare(
          `INSERT INTO ${t} (series, bucket, min, max, sum, count, last, last_ts)
           VALUES (@series, @bucket, @min, @max, @sum, @count, @last, @lastTs)
           ON CONFLICT (series, bucket) DO UPDATE SET
             min = min(min, excluded.min), max = max(max, excluded.max),
             sum = sum + excluded.sum, count = count + excluded.count,
             last = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last ELSE last END,
             last_ts = max(last_ts, excluded.last_ts)`,
        ),
        // Raw rows: better-sqlite3 builds arrays faster than keyed objects (a day of minutes is
        // 1,440 rows per query).
        range: db
          .prepare(`SELECT bucket, min, max, sum, count, last, last_ts FROM ${t} WHERE series = ? AND bucket >= ? AND bucket < ? ORDER BY bucket`)
          .raw(),
        purge: db.prepare(`DELETE FROM ${t} WHERE (series, bucket) IN (SELECT series, bucket FROM ${t} WHERE bucket < ? LIMIT ?)`),
      };
    }
    this.upsertLatest = db.prepare(
      `INSERT INTO series_latest (series, ts, kind, value, unit) VALUES (@series, @ts, @kind, @value, @unit)
       ON CONFLICT (series) DO UPDATE SET ts = excluded.ts, kind = excluded.kind, value = excluded.value, unit = excluded.unit
       WHERE excluded.ts >= series_latest.ts`,
    );
    this.allLatest = db.prepare('SELECT series, ts, kind, value, unit FROM series_latest ORDER BY series');
    this.tx = db.transaction((batch: RollupBatch) => {
      for (const tier of TIER_NAMES) {
        const s = this.tiers[tier].upsert;
        for (const b of batch.buckets[tier]) s.run(b);
      }
      for (const l of batch.latest) {
        const kind = typeof l.value === 'boolean' ? 'b' : typeof l.value === 'number' ? 'n' : 's';
        const value = typeof l.value === 'boolean' ? (l.value ? 1 : 0) : typeof l.value === 'number' && !Number.isFinite(l.value) ? null : l.value;
        this.upsertLatest.run({ series: l.series, ts: l.ts, kind, value, unit: l.unit ?? null });
      }
    });
  }

  write(batch: RollupBatch): void {
    this.tx(batch);
  }

  range(tier: TierName, series: string, from: number, to: number): Bucket[] {
    const rows = this.tiers[tier].range.all(series, from, to) as Array<[number, number, number, number, number, number, number]>;
    const out: Bucket[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [bucket, min, max, sum, count, last, lastTs] = rows[i]!;
      out[i] = { series, bucket, min, max, sum, count, last, lastTs };
    }
    return out;
  }

  deleteBefore(tier: TierName, before: number, limit: number): number {
    return this.tiers[tier].purge.run(before, limit).changes;
  }

  latest(): LatestValue[] {
    const rows = this.allLatest.all() as Array<{ series: string; ts: number; kind: string; value: number | string | null; unit: string | null }>;
    return rows.map((r) => {
      const value = r.kind === 'b' ? r.value === 1 : r.kind === 'n' ? (r.value === null ? NaN : Number(r.value)) : String(r.value);
      return r.unit === null ? { series: r.series, ts: r.ts, value } : { series: r.series, ts: r.ts, value, unit: r.unit };
    });
  }
}
