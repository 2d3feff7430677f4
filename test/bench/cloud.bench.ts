import { cpus, loadavg } from 'node:os';
import { connect, type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import type { LoggedReading } from '#gateway/store/reading-log';
import { encodeBatch, decodeAck } from '@fieldmesh/protocol';
import { tempDir, waitFor } from '../cloud-bridge/cloud-fixture.js';
import { launchBrowser } from '../cloud-bridge/dashboard/browser.js';
import { startBridgeProcess, type BridgeProcess } from '../cloud-bridge/scale/bridge-process.js';
import { startMosquitto } from '../cloud-bridge/scale/mosquitto.js';
import { freshDatabase, postgresBin, startPgCluster } from '../cloud-bridge/scale/pg-cluster.js';
import type { BenchRow } from './harness.js';

// Cloud ingest and live latency. Bridges run as real `fieldmesh cloud` processes;
// simulated gateways publish pre-encoded uplink batches with the uplink's window (8 in flight,
// the next batch on each ack), so the figure is the bridge's commit rate, not the encoder's.

const GATEWAYS = 4;
const PER_GATEWAY = Number(process.env.FM_BENCH_CLOUD_READINGS ?? 100_000);
const BATCH = 5000;
const WINDOW = 8;
const T0 = 1_767_225_600_000;

function batches(gw: string): Buffer[] {
  const out: Buffer[] = [];
  for (let first = 1; first <= PER_GATEWAY; first += BATCH) {
    const readings: LoggedReading[] = Array.from({ length: BATCH }, (_, i) => ({ seq: first + i, series: `dev${i % 10}/temp`, ts: T0 + (first + i) * 100, value: 20 + ((first + i) % 100) / 10, unit: 'Cel' }));
    out.push(encodeBatch({ gatewayId: gw, epoch: 'bench', readings }));
  }
  return out;
}

async function mqttClient(url: string, id: string): Promise<MqttClient> {
  const c = connect(url, { clientId: id, reconnectPeriod: 0, protocolVersion: 4 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

/** Drives GATEWAYS simulated gateways to completion; resolves readings/s. */
async function drive(url: string, payloads: Map<string, Buffer[]>): Promise<number> {
  const clients: MqttClient[] = [];
  try {
    const started = performance.now();
    await Promise.all(
      [...payloads].map(async ([gw, list]) => {
        const c = await mqttClient(url, gw);
        clients.push(c);
        await c.subscribeAsync(`fm/g/${gw}/ack`, { qos: 1 });
        let next = 0;
        let acked = 0;
        await new Promise<void>((resolve, reject) => {
          const send = () => {
            if (next < list.length) c.publish(`fm/g/${gw}/batch`, list[next++]!, { qos: 1 });
          };
          c.on('message', (_t, p) => {
            const ack = decodeAck(p);
            if (!ack.ok) return reject(new Error(`nack ${ack.code}`));
            if (++acked === list.length) resolve();
            else send();
          });
          for (let i = 0; i < WINDOW; i++) send();
        });
      }),
    );
    return (GATEWAYS * PER_GATEWAY) / ((performance.now() - started) / 1000);
  } finally {
    for (const c of clients) c.end(true);
  }
}

async function ingest(rows: BenchRow[], name: string, setup: () => Promise<{ url: string; stop: () => Promise<void> }>): Promise<void> {
  const payloads = new Map<string, Buffer[]>();
  for (let g = 0; g < GATEWAYS; g++) payloads.set(`gw-${name.replace(/\W+/g, '')}-${g}`, batches(`gw-${name.replace(/\W+/g, '')}-${g}`));
  const env = await setup();
  try {
    const rate = await drive(env.url, payloads);
    rows.push({ name: `cloud ingest, ${name} (${GATEWAYS} gateways × ${PER_GATEWAY} readings, batches of ${BATCH})`, value: Math.round(rate), unit: 'readings/s', anchor: `SQLite 1,000 rows/tx ≈ 700k rows/s (measured on this class of machine); load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores` });
  } finally {
    await env.stop();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** One-reading batches every 20 ms from a connected gateway; a /live WebSocket subscriber times them. */
async function latency(rows: BenchRow[]): Promise<void> {
  const tmp = tempDir('fm-bench-lat-');
  const bridge = await startBridgeProcess(tmp.dir, { broker: { port: 0, host: '127.0.0.1', auth: 'none' } });
  let closeBrowser: (() => Promise<void>) | null = null;
  try {
    const token = bridge.liveToken!;
    const brokerPort = bridge.brokerPort!;
    const ws = new WebSocket(`ws://127.0.0.1:${bridge.httpPort}/live?token=${token}&kinds=readings`);
    const samples: number[] = [];
    ws.on('message', (data) => {
      const at = performance.timeOrigin + performance.now();
      const m = JSON.parse(String(data)) as { type: string; readings?: Array<{ value: number }> };
      if (m.type === 'readings') for (const r of m.readings!) samples.push(at - r.value);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('message', () => resolve());
      ws.once('error', reject);
    });
    // The same stream into a real browser (headless chromium), timed in the page.
    let browser: Awaited<ReturnType<typeof launchBrowser>> | null = null;
    let page: Awaited<ReturnType<Awaited<ReturnType<typeof launchBrowser>>['context']['newPage']>> | null = null;
    try {
      browser = await launchBrowser();
      closeBrowser = browser.close;
      page = await browser.context.newPage();
      await page.goto(`http://127.0.0.1:${bridge.httpPort}/healthz`);
      await page.evaluate(`new Promise((resolve) => {
        window.samples_ = [];
        const ws = new WebSocket('ws://127.0.0.1:${bridge.httpPort}/live?kinds=readings&token=${token}');
        ws.onmessage = (ev) => {
          const at = performance.timeOrigin + performance.now();
          const m = JSON.parse(ev.data);
          if (m.type === 'hello') resolve();
          if (m.type === 'readings') for (const r of m.readings) window.samples_.push(at - r.value);
        };
      })`);
    } catch (err) {
      console.error(`\n*** browser latency not measured: ${(err as Error).message.split('\n')[0]} ***\n`);
    }
    const gw = await mqttClient(`mqtt://127.0.0.1:${brokerPort}`, 'gw-lat');
    await gw.subscribeAsync('fm/g/gw-lat/ack', { qos: 1 });
    const n = 500;
    for (let i = 1; i <= n; i++) {
      const sentAt = performance.timeOrigin + performance.now();
      gw.publish('fm/g/gw-lat/batch', encodeBatch({ gatewayId: 'gw-lat', epoch: 'lat', readings: [{ seq: i, series: 'dev1/temp', ts: Math.round(sentAt), value: sentAt }] }), { qos: 1 });
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => samples.length >= n, 'all latency samples', 30_000);
    gw.end(true);
    ws.terminate();
    if (page) {
      await waitFor(async () => ((await page!.evaluate('window.samples_.length')) as number) >= n, 'browser samples', 30_000);
      const inBrowser = ((await page.evaluate('window.samples_')) as number[]).sort((a, b) => a - b);
      rows.push({ name: 'latency uplink batch publish → browser (chromium) WebSocket, p50', value: percentile(inBrowser, 50), unit: 'ms' });
      rows.push({ name: 'latency uplink batch publish → browser (chromium) WebSocket, p99', value: percentile(inBrowser, 99), unit: 'ms', target: '< 100', met: percentile(inBrowser, 99) < 100 });
    }
    const sorted = samples.sort((a, b) => a - b);
    // The machine is shared: say how busy it was, latency tails depend on it.
    const load = `load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`;
    rows.push({ name: `latency uplink batch publish → /live WebSocket subscriber, p50 (${n} one-reading batches, SQLite FULL, embedded broker)`, value: percentile(sorted, 50), unit: 'ms', anchor: load });
    rows.push({ name: 'latency uplink batch publish → /live WebSocket subscriber, p99', value: percentile(sorted, 99), unit: 'ms', target: '< 100', met: percentile(sorted, 99) < 100, anchor: load });
  } finally {
    await closeBrowser?.();
    await bridge.kill('SIGTERM');
    tmp.cleanup();
  }
}

export default async function cloudBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  await ingest(rows, 'SQLite, 1 bridge process, embedded broker', async () => {
    const tmp = tempDir('fm-bench-sqlite-');
    const b = await startBridgeProcess(tmp.dir, { broker: { port: 0, host: '127.0.0.1', auth: 'none' } });
    return { url: `mqtt://127.0.0.1:${b.brokerPort}`, stop: async () => (await b.kill('SIGTERM'), tmp.cleanup()) };
  });
  if (postgresBin() === null) {
    console.error('\n*** PostgreSQL is not installed (Debian postgresql): PostgreSQL rows skipped ***\n');
  } else {
    const cluster = await startPgCluster();
    try {
      await ingest(rows, 'PostgreSQL, 1 bridge process, embedded broker', async () => {
        const tmp = tempDir('fm-bench-pg1-');
        const b = await startBridgeProcess(tmp.dir, { broker: { port: 0, host: '127.0.0.1', auth: 'none' }, store: await freshDatabase(cluster) });
        return { url: `mqtt://127.0.0.1:${b.brokerPort}`, stop: async () => (await b.kill('SIGTERM'), tmp.cleanup()) };
      });
      for (const n of [1, 2]) {
        await ingest(rows, `PostgreSQL, ${n} bridge process${n > 1 ? 'es' : ''} behind Mosquitto (shared subscription)`, async () => {
          const mosquitto = await startMosquitto();
          const url = await freshDatabase(cluster);
          const procs: Array<{ b: BridgeProcess; cleanup: () => void }> = [];
          for (let i = 0; i < n; i++) {
            const tmp = tempDir(`fm-bench-ext${i}-`);
            procs.push({ b: await startBridgeProcess(tmp.dir, { broker: { url: mosquitto.url }, store: url }), cleanup: tmp.cleanup });
          }
          return {
            url: mosquitto.url,
            stop: async () => {
              for (const p of procs) {
                await p.b.kill('SIGTERM');
                p.cleanup();
              }
              await mosquitto.stop();
            },
          };
        });
      }
    } finally {
      cluster.stop();
    }
  }
  await latency(rows);
  return rows;
}
