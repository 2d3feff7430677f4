import { loadavg } from 'node:os';
import type { WireReading } from '@fieldmesh/protocol';
import { labConfig, startCloud, tempDir } from '../cloud-bridge/cloud-fixture.js';
import type { BenchRow } from './harness.js';

/**
 * What the dashboard's time-range picker and a Prometheus scrape cost on the cloud: a week of
 * one 1 Hz series (604,800 readings, SQLite store) read back decimated for a 1000-pixel chart
 * (`/api/readings?step=`), and `/metrics` with 200 gateways and 2000 alert events. Over loopback
 * HTTP against an in-process bridge; medians of several runs.
 */
const WEEK = 7 * 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const RUNS = Number(process.env.FM_BENCH_VIEWS_RUNS ?? 5);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed(url: string, runs: number, token: string): Promise<{ ms: number; bytes: number }> {
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    bytes = (await r.arrayBuffer()).byteLength;
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    ms.push(performance.now() - t);
  }
  return { ms: median(ms), bytes };
}

export default async function bench(): Promise<BenchRow[]> {
  const tmp = tempDir('fm-bench-views-');
  const cloud = await startCloud(labConfig(tmp.dir));
  try {
    const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
    const fillStart = performance.now();
    const perBatch = 10_000;
    for (let first = 0; first < WEEK / 1000; first += perBatch) {
      const readings: WireReading[] = Array.from({ length: Math.min(perBatch, WEEK / 1000 - first) }, (_, i) => ({ seq: first + i + 1, series: 'boiler/temp', ts: T0 + (first + i) * 1000, value: 60 + Math.sin((first + i) / 600) }));
      await cloud.store.commitBatch('gw-a', 'bench', readings, Date.now());
    }
    const fillS = (performance.now() - fillStart) / 1000;
    const base = `http://127.0.0.1:${cloud.httpPort}`;
    const token = cloud.live.issuedToken!;
    const rows: BenchRow[] = [];
    for (const [label, span] of [['7 days', WEEK], ['24 h', 86_400_000], ['1 h', 3_600_000]] as const) {
      const to = T0 + WEEK;
      const from = to - span;
      const step = Math.ceil(span / 1000);
      const r = await timed(`${base}/api/readings?gateway=gw-a&series=boiler/temp&from=${from}&to=${to}&step=${step}`, RUNS, token);
      rows.push({ name: `decimated range read, ${label} of 1 Hz (${span / 1000} readings) for 1000 px, median of ${RUNS}`, value: Math.round(r.ms), unit: 'ms', anchor: `${(r.bytes / 1024).toFixed(0)} KiB answer; load ${load()}` });
    }
    // A scrape with a fleet's worth of gateways and alert history.
    for (let g = 0; g < 200; g++) await cloud.store.recordStatus(`gw-${g}`, { online: true, at: Date.now(), status: { v: 1, backlog: g, drainRate: 10, etaSeconds: 1, oldestUnsentAgeMs: 1000 }, reportedBacklog: g });
    const events = Array.from({ length: 2000 }, (_, i) => ({ gateway: `gw-${i % 200}`, epoch: 'e1', seq: Math.floor(i / 200) + 1, alertId: Math.floor(i / 200) + 1, type: i % 400 < 200 ? 'raised' : 'cleared', rule: 'r', series: 'd/s', condition: 'high', severity: 'warning', value: 1, ts: T0 + i, reason: 'x' }));
    cloud.alerts.commit(events, Date.now());
    const m = await timed(`${base}/metrics`, RUNS * 2, token);
    rows.push({ name: `/metrics scrape, 200 gateways, 2000 alert events, median of ${RUNS * 2}`, value: Math.round(m.ms * 10) / 10, unit: 'ms', anchor: `${(m.bytes / 1024).toFixed(0)} KiB; load ${load()}` });
    rows.push({ name: 'filling the store (604,800 readings, 10k a transaction)', value: Math.round(fillS * 10) / 10, unit: 's' });
    return rows;
  } finally {
    await cloud.stop();
    tmp.cleanup();
  }
}
