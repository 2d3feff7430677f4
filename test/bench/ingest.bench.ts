import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Aedes } from 'aedes';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { Gateway } from '#gateway/gateway';
import { IngestBroker } from '#gateway/ingest/broker';
import { Ingest } from '#gateway/ingest/ingest';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import type { BenchRow } from './harness.js';

/**
 * Gateway ingest: readings per second durably committed through the gateway at QoS 1,
 * against bare aedes with no storage in the same run, and with SenML packs of 50 readings.
 * Publishers run in a worker thread (as devices would be another process), several clients
 * each with a bounded in-flight window (mqtt.js warns past ~1000 in flight).
 */
const CLIENTS = 4;
const WINDOW = 64;
const MESSAGES = Number(process.env.FM_BENCH_MESSAGES ?? 60_000);
const PACKS = Number(process.env.FM_BENCH_PACKS ?? 8_000);

const publisher = `
const { parentPort, workerData } = require('node:worker_threads');
const mqtt = require('mqtt');
const { port, clients, messages, inFlightMax, senml } = workerData;
const T = Date.UTC(2026, 0, 1);
function payload(dev, i) {
  if (!senml) return '"' + 'x'.repeat(98) + '"'; // a 100-byte JSON string value
  const recs = [];
  for (let k = 0; k < senml; k++) {
    const r = { n: 's' + (k % 10), v: i + k / 100, t: k / 1000 };
    if (k === 0) Object.assign(r, { fm_seq: i, bn: dev + '/', bt: T / 1000 + i });
    recs.push(r);
  }
  return JSON.stringify(recs);
}
const per = Math.ceil(messages / clients);
let finished = 0;
const start = performance.now();
for (let c = 0; c < clients; c++) {
  const dev = 'bench' + c;
  const client = mqtt.connect('mqtt://127.0.0.1:' + port, { clientId: dev, reconnectPeriod: 0 });
  client.setMaxListeners(0);
  let sent = 0, acked = 0, inFlight = 0;
  const topic = senml ? 'fm/d/' + dev + '/senml' : 'fm/d/' + dev + '/v';
  const pump = () => {
    while (inFlight < inFlightMax && sent < per) {
      const i = sent++;
      inFlight++;
      client.publish(topic, payload(dev, i), { qos: 1 }, (err) => {
        if (err) throw err;
        inFlight--; acked++;
        if (acked === per) { client.end(true); if (++finished === clients) parentPort.postMessage({ ms: performance.now() - start, messages: per * clients }); }
        else pump();
      });
    }
  };
  client.once('connect', pump);
}
`;

export function runPublishers(port: number, messages: number, senml: number): Promise<{ ms: number; messages: number }> {
  const worker = new Worker(publisher, { eval: true, workerData: { port, clients: CLIENTS, messages, inFlightMax: WINDOW, senml } });
  return new Promise((resolve, reject) => {
    worker.once('message', (m: { ms: number; messages: number }) => {
      void worker.terminate();
      resolve(m);
    });
    worker.once('error', reject);
  });
}

async function bareAedes(): Promise<number> {
  const aedes = await Aedes.createBroker();
  const server = createServer((s) => aedes.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const { ms, messages } = await runPublishers(port, MESSAGES, 0);
  await new Promise<void>((r) => server.close(() => r()));
  await new Promise<void>((r) => aedes.close(() => r()));
  return messages / (ms / 1000);
}

/**
 * CPU time of this process's main thread (where the gateway runs; the publishers and a commit
 * thread have threads of their own), µs, from /proc/self/task/<pid>/stat: a figure a loaded
 * machine distorts far less than readings per second.
 */
function mainThreadCpuMicros(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
}

export const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!;

interface Run {
  rate: number;
  stored: number;
  expected: number;
  commits: number;
  /** Main-thread CPU µs per reading (the whole gateway without its publishers). */
  cpu: number;
  /** 1-minute load average when the run ended. */
  load: string;
}

async function gateway(senml: number, messages: number, commitThread = false): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-ingest-'));
  const gw = new Gateway(parseGatewayConfig({ dataDir: dir, broker: { port: 0, host: '127.0.0.1', auth: 'none' }, http: { port: 0 }, ingest: { commitThread } }), { print: () => {} });
  try {
    const { brokerPort } = await gw.start();
    const cpu0 = mainThreadCpuMicros();
    const res = await runPublishers(brokerPort, messages, senml);
    const per = Math.max(1, senml);
    return {
      rate: (res.messages * per) / (res.ms / 1000),
      stored: gw.store.lastSeq(),
      expected: res.messages * per,
      commits: gw.ingest.stats.commits,
      cpu: (mainThreadCpuMicros() - cpu0) / (res.messages * per),
      load: loadAverage(),
    };
  } finally {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The ingest path alone: broker + socket guard + decode + group commit + SQLite (synchronous=FULL),
 * without what the whole gateway also runs per commit (rules, rollups, uplink notify).
 */
async function ingestPath(senml: number, messages: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-path-'));
  const log = new SqliteReadingLog(join(dir, 'gateway.db'));
  const ingest = new Ingest(log, { commitIntervalMs: 0, maxBatchReadings: 5000 });
  const broker = new IngestBroker({
    config: { port: 0, host: '127.0.0.1', auth: 'none', maxPacketBytes: 300_000, connectTimeoutMs: 10_000, packetTimeoutMs: 60_000, maxConnections: 100 },
    ingest,
  });
  try {
    await broker.start();
    const cpu0 = mainThreadCpuMicros();
    const res = await runPublishers(broker.port, messages, senml);
    const per = Math.max(1, senml);
    return {
      rate: (res.messages * per) / (res.ms / 1000),
      stored: log.lastSeq(),
      expected: res.messages * per,
      commits: ingest.stats.commits,
      cpu: (mainThreadCpuMicros() - cpu0) / (res.messages * per),
      load: loadAverage(),
    };
  } finally {
    await broker.stop();
    await ingest.stop();
    await log.closeAsync();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs alternate, and each figure is the median of its runs: the machine is shared and noisy. */
const RUNS = Number(process.env.FM_BENCH_RUNS ?? 3);

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** "runs 120k 131k 98k (spread 25%), load 3.1 2.9 3.4; main thread 4.1 µs/reading". */
function describeRuns(runs: Run[]): string {
  const rates = runs.map((r) => r.rate);
  const spread = (Math.max(...rates) - Math.min(...rates)) / median(rates);
  return `runs ${rates.map((x) => Math.round(x / 1000) + 'k').join(' ')} (spread ${(spread * 100).toFixed(0)}%), load ${runs.map((r) => r.load).join(' ')}; main thread ${median(runs.map((r) => r.cpu)).toFixed(2)} µs/reading`;
}

export default async function ingestBench(): Promise<BenchRow[]> {
  await bareAedes(); // warm-up: JIT, sockets
  const bares: number[] = [];
  const bareLoads: string[] = [];
  const gws: Run[] = [];
  const packRuns: Run[] = [];
  const threadRuns: Run[] = [];
  const threadPackRuns: Run[] = [];
  const pathRuns: Run[] = [];
  const pathPackRuns: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    bares.push(await bareAedes());
    bareLoads.push(loadAverage());
    gws.push(await gateway(0, MESSAGES));
    threadRuns.push(await gateway(0, MESSAGES, true));
    packRuns.push(await gateway(50, PACKS));
    threadPackRuns.push(await gateway(50, PACKS, true));
    pathRuns.push(await ingestPath(0, MESSAGES));
    pathPackRuns.push(await ingestPath(50, PACKS));
  }
  for (const r of [...gws, ...packRuns, ...threadRuns, ...threadPackRuns, ...pathRuns, ...pathPackRuns]) {
    if (r.stored !== r.expected) throw new Error(`stored ${r.stored} of ${r.expected} acknowledged readings`);
  }
  const bare = median(bares);
  const gwRate = median(gws.map((g) => g.rate));
  const packRate = median(packRuns.map((g) => g.rate));
  const ratio = gwRate / bare;
  const fmt = (xs: number[]) => xs.map((x) => Math.round(x / 1000) + 'k').join(' ');
  return [
    { name: `bare aedes, QoS 1, no storage (${CLIENTS} clients × window ${WINDOW})`, value: Math.round(bare), unit: 'msg/s', anchor: `runs ${fmt(bares)}, load ${bareLoads.join(' ')}; aedes alone ≈ 36k msg/s QoS 1 on a quiet machine here` },
    { name: 'gateway, bare values, QoS 1, durably committed', value: Math.round(gwRate), unit: 'readings/s', anchor: `${describeRuns(gws)}; ~${Math.round(gws[0]!.expected / gws[0]!.commits)} readings per commit` },
    { name: 'gateway, bare values, ingest.commitThread: true', value: Math.round(median(threadRuns.map((g) => g.rate))), unit: 'readings/s', anchor: `${describeRuns(threadRuns)} (commits on a worker thread, not counted)` },
    { name: 'gateway / bare aedes (medians)', value: Number(ratio.toFixed(3)), unit: '×', target: '>= 0.9', met: ratio >= 0.9 },
    { name: 'gateway, SenML packs of 50, QoS 1, durably committed', value: Math.round(packRate), unit: 'readings/s', target: '>= 300000', met: packRate >= 300_000, anchor: `${describeRuns(packRuns)}; ~${Math.round(packRuns[0]!.expected / packRuns[0]!.commits)} readings per commit` },
    { name: 'gateway, SenML packs of 50, ingest.commitThread: true', value: Math.round(median(threadPackRuns.map((g) => g.rate))), unit: 'readings/s', anchor: describeRuns(threadPackRuns) },
    { name: 'ingest path alone (no rules/rollups), bare values', value: Math.round(median(pathRuns.map((g) => g.rate))), unit: 'readings/s', anchor: `${describeRuns(pathRuns)}; ${(median(pathRuns.map((g) => g.rate)) / bare).toFixed(2)} × bare aedes` },
    { name: 'ingest path alone (no rules/rollups), SenML packs of 50', value: Math.round(median(pathPackRuns.map((g) => g.rate))), unit: 'readings/s', anchor: describeRuns(pathPackRuns) },
  ];
}
