import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresCloudStore } from '#cloud-bridge/store/postgres-cloud-store';
import { freshDatabase, startPgCluster, type PgCluster } from './pg-cluster.js';
import { grafanaQueries, loadWeek, run, T0, WEEK_MS } from './grafana-queries.js';

let cluster: PgCluster;
let url: string;
let store: PostgresCloudStore;
let client: pg.Client;
beforeAll(async () => {
  cluster = await startPgCluster();
  url = await freshDatabase(cluster);
  store = await PostgresCloudStore.open(url);
  await loadWeek(store);
  client = new pg.Client({ connectionString: url });
  await client.connect();
}, 240_000);
afterAll(async () => {
  await client?.end();
  await store?.close();
  cluster?.stop();
});

describe('Grafana views on the PostgreSQL cloud store (docs/GRAFANA.md queries, a week of 1 Hz data)', () => {
  it('docs/GRAFANA.md marks the queries this test runs', () => {
    expect([...grafanaQueries().keys()].sort()).toEqual(['hour-avg', 'minute-avg', 'minute-band', 'per-series', 'raw', 'variable']);
  });

  it('a week at 1-minute steps: 10,080 rows of count 60, min 0, max 59, avg 29.5, with timestamptz times', async () => {
    const rows = await run(client, 'minute-avg', T0, T0 + WEEK_MS - 1);
    expect(rows).toHaveLength(10_080);
    expect(rows[0]!.time).toBeInstanceOf(Date);
    expect((rows[0]!.time as Date).getTime()).toBe(T0);
    expect((rows.at(-1)!.time as Date).getTime()).toBe(T0 + WEEK_MS - 60_000);
    expect(rows.every((r) => r['gw-a dev1/temp'] === 29.5)).toBe(true);
    const band = await run(client, 'minute-band', T0, T0 + 3_600_000 - 1);
    expect(band).toHaveLength(60);
    expect(band.every((r) => r.min === 0 && r.max === 59 && r.avg === 29.5)).toBe(true);
  });

  it('coarser steps fold the rollup (hours) and raw reads return every reading of a short range', async () => {
    const hours = await run(client, 'hour-avg', T0, T0 + WEEK_MS - 1);
    expect(hours).toHaveLength(168);
    expect(Number(hours[1]!.time)).toBe(T0 / 1000 + 3600);
    expect(hours.every((r) => r.value === 29.5)).toBe(true);
    const raw = await run(client, 'raw', T0 + 60_000, T0 + 120_000 - 1);
    expect(raw.map((r) => r.value)).toEqual(Array.from({ length: 60 }, (_, i) => i));
  });

  it('per-series lines and the series variable', async () => {
    const rows = await run(client, 'per-series', T0, T0 + 3_600_000 - 1);
    expect(rows.filter((r) => r.metric === 'dev2/hum')).toHaveLength(60);
    expect(rows.filter((r) => r.metric === 'dev2/hum').every((r) => r.value === 50.5)).toBe(true);
    expect((await run(client, 'variable', 0, 0)).map((r) => r.name)).toEqual(['dev1/temp', 'dev2/hum']);
  });

  it('the range predicate on ts is an index scan, not a sequential scan of the readings', async () => {
    const sql = grafanaQueries().get('raw')!.replaceAll('$__from', String(T0)).replaceAll('$__to', String(T0 + 60_000));
    const plan = (await client.query(`EXPLAIN ${sql}`)).rows.map((r) => String(r['QUERY PLAN'])).join('\n');
    expect(plan).toMatch(/Index (Only )?Scan|Bitmap Index Scan/);
    expect(plan).not.toMatch(/Seq Scan on fm_readings/);
  });

  it('a batch delivered twice adds nothing to the rollup; non-finite values stay out of it', async () => {
    const db = await freshDatabase(cluster);
    const s = await PostgresCloudStore.open(db);
    const c = new pg.Client({ connectionString: db });
    await c.connect();
    try {
      const batch = [
        { seq: 1, series: 'd/x', ts: T0, value: 1 },
        { seq: 2, series: 'd/x', ts: T0 + 1000, value: Number.NaN },
        { seq: 3, series: 'd/x', ts: T0 + 2000, value: 3 },
        { seq: 4, series: 'd/x', ts: T0 + 3000, value: true },
        { seq: 5, series: 'd/x', ts: T0 + 4000, value: 'text' },
      ];
      await s.commitBatch('gw', 'e', batch, 1);
      await s.commitBatch('gw', 'e', batch, 2);
      const { rows } = await c.query('SELECT count, min, max, avg FROM fm_grafana_rollup_1m');
      expect(rows).toEqual([{ count: '3', min: 1, max: 3, avg: 5 / 3 }]);
    } finally {
      await c.end();
      await s.close();
    }
  });

  it('a database from before the rollup gets it filled from its readings on open', async () => {
    const db = await freshDatabase(cluster);
    const s = await PostgresCloudStore.open(db);
    await s.commitBatch('gw', 'e', Array.from({ length: 120 }, (_, i) => ({ seq: i + 1, series: 'd/x', ts: T0 + i * 1000, value: i })), 1);
    await s.close();
    const c = new pg.Client({ connectionString: db });
    await c.connect();
    try {
      await c.query('DROP TABLE fm_rollup_1m CASCADE');
      const reopened = await PostgresCloudStore.open(db);
      await reopened.close();
      const { rows } = await c.query('SELECT count, min, max FROM fm_grafana_rollup_1m ORDER BY ts');
      expect(rows).toEqual([{ count: '60', min: 0, max: 59 }, { count: '60', min: 60, max: 119 }]);
    } finally {
      await c.end();
    }
  });
});
