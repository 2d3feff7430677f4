import type pg from 'pg';

/**
 * What Grafana's PostgreSQL data source reads (docs/GRAFANA.md): two views with a `timestamptz`
 * column and a per-minute rollup kept up to date inside each batch's commit transaction.
 *
 * The views expose `ts` (ms since the epoch) beside `time`, because the indexes are on `ts`:
 * `WHERE ts BETWEEN $__from AND $__to` (Grafana's range in ms) is an index range scan, while a
 * predicate on the computed `time` would read every row of the series. The rollup exists because
 * a week of 1 Hz data is 604,800 raw rows per series: a 1-minute-step panel over it reads 10,080
 * rollup rows instead.
 */
export const GRAFANA_SCHEMA = `
CREATE TABLE IF NOT EXISTS fm_rollup_1m (
  gateway text COLLATE "C" NOT NULL, series text COLLATE "C" NOT NULL, unit text NOT NULL,
  minute bigint NOT NULL, n bigint NOT NULL, sum double precision NOT NULL,
  min double precision NOT NULL, max double precision NOT NULL,
  PRIMARY KEY (gateway, series, unit, minute));
CREATE OR REPLACE VIEW fm_grafana_readings AS
  SELECT to_timestamp(ts / 1000.0) AS time, ts, gateway, series, NULLIF(unit, '') AS unit, num AS value
  FROM fm_readings WHERE kind IN (0, 1);
CREATE OR REPLACE VIEW fm_grafana_rollup_1m AS
  SELECT to_timestamp(minute / 1000.0) AS time, minute AS ts, gateway, series, NULLIF(unit, '') AS unit,
         n AS count, min, max, sum / n AS avg
  FROM fm_rollup_1m;
`;

/** Minute buckets (ms at the bucket's start) of numbers and booleans; NaN and ±Infinity are left out. */
const MINUTE_MS = 60_000;

/** Rebuilds the rollup from the readings already stored (a database created before the rollup existed). */
export const GRAFANA_BACKFILL = `
INSERT INTO fm_rollup_1m (gateway, series, unit, minute, n, sum, min, max)
  SELECT gateway, series, unit, (ts / ${MINUTE_MS}) * ${MINUTE_MS}, count(*), sum(num), min(num), max(num)
  FROM fm_readings WHERE kind IN (0, 1) AND num NOT IN ('NaN', 'Infinity', '-Infinity')
  GROUP BY gateway, series, unit, (ts / ${MINUTE_MS}) * ${MINUTE_MS}
ON CONFLICT DO NOTHING`;

interface Bucket {
  series: string;
  unit: string;
  minute: number;
  n: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * The rollup's share of one commit: readings this transaction really inserted, summed per
 * (series, unit, minute) here, then one upsert. Fed only fresh rows, so a redelivered batch
 * counts nothing twice.
 */
export class MinuteRollupDelta {
  private readonly buckets = new Map<string, Bucket>();

  add(series: string, unit: string, ts: number, value: number): void {
    if (!Number.isFinite(value)) return;
    const minute = Math.floor(ts / MINUTE_MS) * MINUTE_MS;
    const key = `${series}\u0000${unit}\u0000${minute}`;
    const b = this.buckets.get(key);
    if (!b) this.buckets.set(key, { series, unit, minute, n: 1, sum: value, min: value, max: value });
    else {
      b.n++;
      b.sum += value;
      if (value < b.min) b.min = value;
      if (value > b.max) b.max = value;
    }
  }

  async write(client: pg.PoolClient, gateway: string): Promise<void> {
    if (this.buckets.size === 0) return;
    // Key order, so two bridges upserting the same buckets lock them in the same order.
    const list = [...this.buckets.values()].sort((a, b) => (a.series !== b.series ? (a.series < b.series ? -1 : 1) : a.unit !== b.unit ? (a.unit < b.unit ? -1 : 1) : a.minute - b.minute));
    await client.query(
      `INSERT INTO fm_rollup_1m AS r (gateway, series, unit, minute, n, sum, min, max)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::float8[], $7::float8[], $8::float8[])
       ON CONFLICT (gateway, series, unit, minute) DO UPDATE SET n = r.n + excluded.n, sum = r.sum + excluded.sum,
         min = LEAST(r.min, excluded.min), max = GREATEST(r.max, excluded.max)`,
      [gateway, list.map((b) => b.series), list.map((b) => b.unit), list.map((b) => b.minute), list.map((b) => b.n), list.map((b) => b.sum), list.map((b) => b.min), list.map((b) => b.max)],
    );
  }
}
