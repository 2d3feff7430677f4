import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { PostgresCloudStore } from '#cloud-bridge/store/postgres-cloud-store';

/** The queries docs/GRAFANA.md shows (```sql grafana:NAME blocks), so the docs and the tests are one text. */
export function grafanaQueries(): Map<string, string> {
  const doc = readFileSync(fileURLToPath(new URL('../../../docs/GRAFANA.md', import.meta.url)), 'utf8');
  const out = new Map<string, string>();
  for (const m of doc.matchAll(/```sql grafana:([a-z0-9-]+)\n([\s\S]*?)```/g)) out.set(m[1]!, m[2]!.trim());
  return out;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Grafana's PostgreSQL macros, expanded as its data source expands them, for a range in ms. */
export function expandMacros(sql: string, fromMs: number, toMs: number): string {
  return sql
    .replaceAll('$__from', String(fromMs))
    .replaceAll('$__to', String(toMs))
    .replace(/\$__timeGroupAlias\((\w+),\s*'(\d+)([smhd])'\)/g, (_m, col: string, n: string, u: string) => {
      const secs = Number(n) * UNITS[u]!;
      return `floor(extract(epoch from ${col})/${secs})*${secs} AS "time"`;
    })
    .replace(/\$__timeFilter\((\w+)\)/g, (_m, col: string) => `${col} BETWEEN '${new Date(fromMs).toISOString()}' AND '${new Date(toMs).toISOString()}'`);
}

export const WEEK_MS = 7 * 86_400_000;
/** A Monday at 00:00 UTC: minutes and hours line up with bucket starts. */
export const T0 = Date.UTC(2026, 10, 2);

/**
 * A week of 1 Hz readings for `gw-a dev1/temp` (value = the second within its minute, so every
 * minute has count 60, min 0, max 59, avg 29.5) and one hour of `gw-a dev2/hum`, committed
 * through the store as uplink batches would be.
 */
export async function loadWeek(store: PostgresCloudStore, batchSize = 20_000): Promise<number> {
  let seq = 0;
  const total = WEEK_MS / 1000;
  for (let i = 0; i < total; i += batchSize) {
    const batch = [];
    for (let k = i; k < Math.min(total, i + batchSize); k++) batch.push({ seq: ++seq, series: 'dev1/temp', ts: T0 + k * 1000, value: k % 60, unit: 'Cel' });
    await store.commitBatch('gw-a', 'e1', batch, T0);
  }
  const hum = [];
  for (let k = 0; k < 3600; k++) hum.push({ seq: ++seq, series: 'dev2/hum', ts: T0 + k * 1000, value: 50 + (k % 2), unit: '%RH' });
  await store.commitBatch('gw-a', 'e1', hum, T0);
  return seq;
}

export async function run(client: pg.Client, name: string, fromMs: number, toMs: number): Promise<Array<Record<string, unknown>>> {
  const sql = grafanaQueries().get(name);
  if (sql === undefined) throw new Error(`docs/GRAFANA.md has no query grafana:${name}`);
  return (await client.query(expandMacros(sql, fromMs, toMs))).rows as Array<Record<string, unknown>>;
}
