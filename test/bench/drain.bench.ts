import { mkdtempSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import { connect } from 'mqtt';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import type { Reading } from '@fieldmesh/device-sdk';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { Uplink } from '#gateway/uplink/uplink';
import { batchSigner, checkBatchSignature, encodeBatch, generateOriginKey, originPublicKey } from '@fieldmesh/protocol';
import { GatewayCredentials } from '#cloud-bridge/broker/credentials';
import { MqttUplinkLink, type LinkSession, type UplinkLink } from '#gateway/uplink/uplink-link';
import type { BenchRow } from './harness.js';

/**
 * Drain of a 1,000,000-reading backlog from a SQLite reading log to the cloud bridge over
 * loopback (target >= 100,000 readings/s), and bytes on the wire per reading for 1 Hz
 * slowly-changing series (target <= 6) beside one JSON MQTT message per reading.
 * The cloud bridge runs as its own process (`fieldmesh cloud`), as in production. Wire bytes are
 * the uplink socket's bytes both ways: every MQTT byte (CONNECT, batches, PUBACKs, acks, status).
 */
const TOTAL = Number(process.env.FM_DRAIN_READINGS ?? 1_000_000);
const SERIES = 100;
/** Uplink knobs, to compare settings; unset = the Uplink defaults. */
const BATCH = process.env.FM_DRAIN_BATCH ? Number(process.env.FM_DRAIN_BATCH) : undefined;
const WINDOW = process.env.FM_DRAIN_WINDOW ? Number(process.env.FM_DRAIN_WINDOW) : undefined;
const T0 = Date.UTC(2026, 0, 1);
const fieldmeshBin = join(dirname(fileURLToPath(import.meta.url)), '../../gateway/bin/fieldmesh.js');

/** 1 Hz per series, arrival jitter of a few ms, values a slow random walk at 0.01 resolution. */
function* backlog(): Generator<Reading[]> {
  let seed = 42;
  const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const level = Array.from({ length: SERIES }, (_, i) => 2000 + i * 10);
  const chunk: Reading[] = [];
  for (let n = 0; n < TOTAL; n++) {
    const s = n % SERIES;
    const second = Math.floor(n / SERIES);
    if (rand() < 0.2) level[s]! += rand() < 0.5 ? -1 : 1;
    chunk.push({ series: `sensor${s}/temp`, ts: T0 + second * 1000 + s * 3 + Math.floor(rand() * 20), value: level[s]! / 100, unit: 'Cel' });
    if (chunk.length === 10_000) yield chunk.splice(0);
  }
  if (chunk.length) yield chunk;
}

/** The cloud bridge as its own process, through the real CLI, as it runs in production. */
async function startCloudProcess(dir: string): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  writeFileSync(join(dir, 'cloud.yaml'), 'broker: { port: 0, auth: none }\nhttp: { port: 0 }\ndataDir: ./cloud\n');
  const child = spawn(process.execPath, [fieldmeshBin, 'cloud', '--config', join(dir, 'cloud.yaml'), '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /cloud broker: mqtt:\/\/[^:]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`cloud exited with ${code}: ${out}`)));
  });
  return {
    port,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** CPU seconds (user + system) a process used so far, from /proc/<pid>/stat (clock ticks of 10 ms). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  // After the command name: state is field 3, utime 14 and stime 15 (proc(5)).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * The usual forwarding, for comparison: one QoS 1 JSON message per reading to a bare aedes (no
 * storage, no ack protocol: the most favourable case for it), a window of 100 in flight.
 */
async function jsonForwardRate(readings: Reading[]): Promise<number> {
  const aedes = await Aedes.createBroker();
  const server = createServer((s) => aedes.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const client = connect(`mqtt://127.0.0.1:${(server.address() as { port: number }).port}`, { reconnectPeriod: 0 });
  await new Promise<void>((r) => client.once('connect', () => r()));
  const started = performance.now();
  for (let i = 0; i < readings.length; i += 100) {
    await Promise.all(
      readings.slice(i, i + 100).map((r) => client.publishAsync(`fm/g/gw-bench/${r.series}`, JSON.stringify({ ts: r.ts, value: r.value, unit: r.unit }), { qos: 1 })),
    );
  }
  const rate = readings.length / ((performance.now() - started) / 1000);
  await client.endAsync();
  await new Promise<void>((r) => server.close(() => r()));
  await new Promise<void>((r) => aedes.close(() => r()));
  return rate;
}

/**
 * The other end of the scale, for honesty: batch bytes per reading when values are noisy doubles
 * (every value takes the XOR float path) and timestamps jitter by up to a second.
 */
function noisyBatchBytesPerReading(): number {
  let seed = 7;
  const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const n = 100_000;
  let bytes = 0;
  for (let first = 1; first <= n; first += 5000) {
    const readings = Array.from({ length: 5000 }, (_, i) => ({ seq: first + i, series: `sensor${i % 100}/vib`, ts: T0 + (first + i) * 10 + Math.floor(rand() * 1000), value: rand() * 1000 - 500 }));
    bytes += encodeBatch({ gatewayId: 'gw-bench', epoch: '0123456789abcdef', readings }).length;
  }
  return bytes / n;
}

/** Bytes of one QoS 1 PUBLISH carrying the reading as JSON on its own topic, plus its PUBACK. */
function jsonMessageBytes(r: Reading, gateway: string): number {
  const publish = mqttPacket.generate({
    cmd: 'publish',
    topic: `fm/g/${gateway}/${r.series}`,
    payload: Buffer.from(JSON.stringify({ ts: r.ts, value: r.value, unit: r.unit })),
    qos: 1,
    messageId: 1234,
    retain: false,
    dup: false,
  });
  return publish.length + 4;
}

/** Cost of the origin signature on one batch of 5,000 readings of the backlog: sign at the gateway, verify at the cloud. */
function signatureCost(): { signUs: number; encodeUs: number; verifyUs: number; bytes: number } {
  const key = generateOriginKey();
  const signer = batchSigner(key.signingKey);
  const pub = originPublicKey(key.publicKey);
  const readings = (backlog().next().value as Reading[]).slice(0, 5000).map((r: Reading, i: number) => ({ ...r, seq: i + 1 }));
  const plain = encodeBatch({ gatewayId: 'gw-bench', epoch: '0123456789abcdef', readings });
  const signed = encodeBatch({ gatewayId: 'gw-bench', epoch: '0123456789abcdef', readings }, signer.sign);
  // The signature alone (what encodeBatch adds): sign the framed bytes the codec hands it.
  const framed = plain.subarray(0, plain.length - 4);
  const n = 2000;
  const time = (f: () => void): number => {
    for (let i = 0; i < 200; i++) f(); // warm-up
    const t = performance.now();
    for (let i = 0; i < n; i++) f();
    return ((performance.now() - t) * 1000) / n;
  };
  const signUs = time(() => signer.sign(framed));
  const encodeUs = time(() => encodeBatch({ gatewayId: 'gw-bench', epoch: '0123456789abcdef', readings }));
  const verifyUs = time(() => {
    if (checkBatchSignature(signed, pub) !== 'valid') throw new Error('signature does not verify');
  });
  return { signUs, encodeUs, verifyUs, bytes: signed.length - plain.length };
}

async function drainOnce(signed: boolean): Promise<{ rate: number; cpuUs: number; rows: BenchRow[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-drain-'));
  try {
    const log = new SqliteReadingLog(join(dir, 'gw.sqlite'));
    let jsonBytes = 0;
    const jsonSample: Reading[] = [];
    let sampled = 0;
    const fillStart = performance.now();
    for (const chunk of backlog()) {
      log.append(chunk);
      // Every 10th reading is enough for the JSON average.
      for (let i = 0; i < chunk.length; i += 10, sampled++) jsonBytes += jsonMessageBytes(chunk[i]!, 'gw-bench');
      if (jsonSample.length < 100_000) jsonSample.push(...chunk);
    }
    const fillS = (performance.now() - fillStart) / 1000;
    // Signed: the cloud has the gateway's public key and verifies every batch (origin-keys.ts).
    const key = generateOriginKey();
    if (signed) new GatewayCredentials(join(dir, 'cloud', 'gateways.json')).add('gw-bench', { publicKey: key.publicKey });
    const cloud = await startCloudProcess(dir);
    const mqttLink = new MqttUplinkLink(`mqtt://127.0.0.1:${cloud.port}`);
    let session: LinkSession | null = null;
    const link: UplinkLink = { open: (o, e) => (session = mqttLink.open(o, e)) };
    const uplink = new Uplink({ gatewayId: 'gw-bench', log, url: `mqtt://127.0.0.1:${cloud.port}`, link, statusIntervalMs: 60_000, batchReadings: BATCH, maxInFlight: WINDOW, ...(signed ? { sign: batchSigner(key.signingKey).sign } : {}) });
    const started = performance.now();
    // CPU of both ends (this process is the gateway; the cloud is its own): the cost of a
    // reading on the wire that a loaded machine distorts far less than readings/s.
    const cpuStart = process.cpuUsage();
    const cloudCpuStart = processCpuSeconds(cloud.pid);
    // Gateway memory while draining (the cloud is another process): flat means no growth with backlog size.
    const rssStart = process.memoryUsage.rss();
    let rssPeak = rssStart;
    const rssAtHalf: number[] = [];
    // RSS when a quarter, half, three quarters and all of the backlog are acked: a backlog-sized
    // leak grows between the quarters; heap warm-up only happens early.
    const rssAtQuarter: number[] = [];
    // With --expose-gc, the live JS heap after a full collection at each quarter: what the
    // process really keeps, apart from allocator slack.
    const heapAtQuarter: number[] = [];
    const gc = (globalThis as { gc?: () => void }).gc;
    uplink.start();
    const deadline = Date.now() + 20 * 60_000;
    while (log.ackWatermark() < TOTAL) {
      if (Date.now() > deadline) throw new Error(`drain stuck at ${log.ackWatermark()} of ${TOTAL}`);
      await new Promise((r) => setTimeout(r, 5));
      const rss = process.memoryUsage.rss();
      rssPeak = Math.max(rssPeak, rss);
      if (rssAtHalf.length === 0 && log.ackWatermark() >= TOTAL / 2) rssAtHalf.push(rss);
      while (rssAtQuarter.length < 4 && log.ackWatermark() >= (TOTAL * (rssAtQuarter.length + 1)) / 4) {
        rssAtQuarter.push(rss);
        if (gc) {
          gc();
          heapAtQuarter.push(process.memoryUsage().heapUsed);
        }
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    const cpuUs = ((cpu.user + cpu.system) / 1e6 + processCpuSeconds(cloud.pid) - cloudCpuStart) * 1e6 / TOTAL;
    const wire = (session as LinkSession | null)?.wireBytes() ?? NaN;
    const stats = uplink.stats();
    await uplink.stop();
    await cloud.stop();
    log.close();
    const db = new Database(join(dir, 'cloud', 'cloud.sqlite'), { readonly: true });
    const stored = Number(db.prepare('SELECT count(*) FROM readings').pluck().get());
    db.close();
    const jsonRate = await jsonForwardRate(jsonSample);
    const rate = TOTAL / seconds;
    const perReading = wire / TOTAL;
    const jsonPer = jsonBytes / sampled;
    return { rate, cpuUs, rows: [
      { name: `drain ${TOTAL.toLocaleString('en')} backlog, SQLite log -> cloud bridge (SQLite, FULL), loopback`, value: Math.round(rate), unit: 'readings/s', anchor: 'Kura 1 msg/s default; NanoMQ 1 msg per 5 s resend' },
      { name: 'drain wall time', value: Number(seconds.toFixed(2)), unit: 's' },
      { name: `batches sent / acked (${stats.batchesSent} / ${stats.batchesAcked})`, value: Math.round(TOTAL / Math.max(1, stats.batchesAcked)), unit: 'readings/batch' },
      { name: 'wire bytes per reading, 1 Hz slowly-changing series (all MQTT bytes both ways)', value: Number(perReading.toFixed(3)), unit: 'B', target: '<= 6', met: perReading <= 6, anchor: 'Gorilla 1.37 B/point' },
      { name: 'batch bytes per reading, noisy float64 series (no target; XOR path, for contrast)', value: Number(noisyBatchBytesPerReading().toFixed(2)), unit: 'B' },
      { name: 'one JSON MQTT QoS 1 message per reading (+PUBACK), same readings', value: Number(jsonPer.toFixed(1)), unit: 'B', anchor: `${(jsonPer / perReading).toFixed(0)}x the batch encoding` },
      { name: `one JSON QoS 1 message per reading to bare aedes, no storage (${jsonSample.length.toLocaleString('en')} readings)`, value: Math.round(jsonRate), unit: 'readings/s', anchor: `batches drain ${(rate / jsonRate).toFixed(1)}x faster` },
      { name: 'filling the backlog (SqliteReadingLog.append, 10k per transaction)', value: Math.round(TOTAL / fillS), unit: 'readings/s' },
      { name: 'gateway process RSS at drain start', value: Math.round(rssStart / 2 ** 20), unit: 'MiB', anchor: 'Greengrass >= 96 MB + 70 MB stream manager' },
      { name: 'gateway process RSS peak while draining (peak - start)', value: Math.round((rssPeak - rssStart) / 2 ** 20), unit: 'MiB', target: 'flat (no growth with backlog size)', anchor: 'Fluent Bit 1.1 GB on restart with a big backlog' },
      { name: 'gateway process RSS at half drained, minus start', value: Math.round(((rssAtHalf[0] ?? rssStart) - rssStart) / 2 ** 20), unit: 'MiB' },
      {
        name: `gateway RSS at 25/50/75/100% drained: ${rssAtQuarter.map((r) => Math.round(r / 2 ** 20)).join(' / ')} MiB; growth 25% -> 100%`,
        value: Math.round(((rssAtQuarter[3] ?? rssStart) - (rssAtQuarter[0] ?? rssStart)) / 2 ** 20),
        unit: 'MiB',
        target: 'flat (no growth with backlog size)',
      },
      ...(heapAtQuarter.length === 4
        ? [{ name: `live JS heap after full GC at 25/50/75/100% drained: ${heapAtQuarter.map((h) => (h / 2 ** 20).toFixed(1)).join(' / ')} MiB`, value: Number(((heapAtQuarter[3]! - heapAtQuarter[0]!) / 2 ** 20).toFixed(1)), unit: 'MiB growth' }]
        : []),
    ] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Drains alternate with nothing else; the rate is the median of FM_DRAIN_RUNS (default 3), with its spread and load. */
const RUNS = Number(process.env.FM_DRAIN_RUNS ?? 3);

export default async function drainBench(): Promise<BenchRow[]> {
  const runs: Array<{ rate: number; cpuUs: number; rows: BenchRow[]; load: string }> = [];
  const unsigned: number[] = [];
  const unsignedCpu: number[] = [];
  // Signed and unsigned drains alternate, so load drifts hit both alike.
  for (let i = 0; i < RUNS; i++) {
    const u = await drainOnce(false);
    unsigned.push(u.rate);
    unsignedCpu.push(u.cpuUs);
    const r = await drainOnce(true);
    runs.push({ ...r, load: readFileSync('/proc/loadavg', 'utf8').split(' ')[0]! });
  }
  unsigned.sort((a, b) => a - b);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const cpuUnsigned = median(unsignedCpu);
  const cpuSigned = median(runs.map((r) => r.cpuUs));
  const medUnsigned = unsigned[Math.floor(unsigned.length / 2)]!;
  const cost = signatureCost();
  const rates = runs.map((r) => r.rate).sort((a, b) => a - b);
  const med = rates[Math.floor(rates.length / 2)]!;
  const spread = (rates.at(-1)! - rates[0]!) / med;
  const summary: BenchRow = {
    name: `drain ${TOTAL.toLocaleString('en')} backlog, batches signed: median of ${RUNS}`,
    value: Math.round(med),
    unit: 'readings/s',
    target: '>= 300000',
    met: med >= 300_000,
    anchor: `runs ${runs.map((r) => Math.round(r.rate / 1000) + 'k').join(' ')} (spread ${(spread * 100).toFixed(0)}%), load ${runs.map((r) => r.load).join(' ')}`,
  };
  const signing: BenchRow[] = [
    { name: `drain without origin signatures: median of ${RUNS} (runs ${unsigned.map((r) => Math.round(r / 1000) + 'k').join(' ')})`, value: Math.round(medUnsigned), unit: 'readings/s' },
    { name: 'drain rate change with signatures (signed median / unsigned median - 1)', value: Number((((med - medUnsigned) / medUnsigned) * 100).toFixed(1)), unit: '%', target: '> -5', met: (med - medUnsigned) / medUnsigned > -0.05 },
    { name: `drain CPU per reading, gateway + cloud processes, unsigned: median of ${RUNS} (${unsignedCpu.map((c) => c.toFixed(2)).join(' ')})`, value: Number(cpuUnsigned.toFixed(2)), unit: 'µs' },
    { name: `drain CPU per reading, gateway + cloud processes, signed: median of ${RUNS} (${runs.map((r) => r.cpuUs.toFixed(2)).join(' ')})`, value: Number(cpuSigned.toFixed(2)), unit: 'µs' },
    { name: 'drain CPU change with signatures (signed / unsigned - 1)', value: Number(((cpuSigned / cpuUnsigned - 1) * 100).toFixed(1)), unit: '%', target: '< 5', met: cpuSigned / cpuUnsigned - 1 < 0.05 },
    { name: `origin signature per 5,000-reading batch: sign (encoding the batch takes ${Math.round(cost.encodeUs)} µs)`, value: Math.round(cost.signUs), unit: 'µs' },
    { name: 'origin signature per 5,000-reading batch: verify at the cloud', value: Math.round(cost.verifyUs), unit: 'µs' },
    { name: 'origin signature bytes per batch', value: cost.bytes, unit: 'B' },
  ];
  // The other rows are the last run's (wire bytes and memory do not depend on the machine's load).
  return [summary, ...signing, ...runs.at(-1)!.rows];
}
