import pg from 'pg';
import { PostgresCloudStore } from '#cloud-bridge/store/postgres-cloud-store';
import { freshDatabase, startPgCluster } from '../cloud-bridge/scale/pg-cluster.js';
import { expandMacros, grafanaQueries, loadWeek, T0, WEEK_MS } from '../cloud-bridge/scale/grafana-queries.js';
import type { BenchRow } from './harness.js';

/**
 * Grafana's view of the PostgreSQL cloud store (docs/GRAFANA.md): the documented queries, run as
 * Grafana's data source would send them, on a week of 1 Hz data (604,800 readings of one series).
 * Target: a 1-week, 1-series, 1-minute-step query p99 < 100 ms.
 */
const RUNS = Number(process.env.FM_BENCH_GRAFANA_RUNS ?? 200);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function time(client: pg.Client, sql: string): Promise<number[]> {
  await client.query(sql); // warm the cache as a dashboard refresh would find it
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await client.query(sql);
    ms.push(performance.now() - t);
  }
  return ms.sort((a, b) => a - b);
}

export default async function bench(): Promise<BenchRow[]> {
  const cluster = await startPgCluster();
  const url = await freshDatabase(cluster);
  const store = await PostgresCloudStore.open(url);
  const client = new pg.Client({ connectionString: url });
  try {
    const loadStart = performance.now();
    const n = await loadWeek(store);
    const loadS = (performance.now() - loadStart) / 1000;
    await client.connect();
    await client.query('VACUUM ANALYZE');
    const q = grafanaQueries();
    const week = await time(client, expandMacros(q.get('minute-avg')!, T0, T0 + WEEK_MS - 1));
    const hours = await time(client, expandMacros(q.get('hour-avg')!, T0, T0 + WEEK_MS - 1));
    const rawHour = await time(client, expandMacros(q.get('raw')!, T0, T0 + 3_600_000 - 1));
    // The same 1-minute panel computed from raw readings: what the rollup saves.
    const fromRaw = await time(
      client,
      expandMacros(`SELECT $__timeGroupAlias(time, '1m'), avg(value) FROM fm_grafana_readings WHERE gateway = 'gw-a' AND series = 'dev1/temp' AND ts BETWEEN $__from AND $__to GROUP BY 1 ORDER BY 1`, T0, T0 + WEEK_MS - 1),
    );
    const load = (await import('node:os')).loadavg()[0]!.toFixed(2);
    return [
      { name: `1 week, 1 series, 1-min steps (rollup view), p50 [${RUNS} runs, load ${load}]`, value: percentile(week, 50), unit: 'ms' },
      { name: '1 week, 1 series, 1-min steps (rollup view), p99', value: percentile(week, 99), unit: 'ms', target: '< 100', met: percentile(week, 99) < 100 },
      { name: '1 week, 1 series, 1-h steps folded from the rollup, p99', value: percentile(hours, 99), unit: 'ms' },
      { name: '1 hour raw readings (3,600 rows), p99', value: percentile(rawHour, 99), unit: 'ms' },
      { name: '1 week, 1-min steps computed from raw rows, p99', value: percentile(fromRaw, 99), unit: 'ms', anchor: 'what the rollup saves' },
      { name: `loading the week through commitBatch (${n} readings, rollup kept)`, value: n / loadS, unit: 'readings/s' },
    ];
  } finally {
    await client.end().catch(() => {});
    await store.close();
    cluster.stop();
  }
}
