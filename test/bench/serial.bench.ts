/**
 * Serial ingest: frames per second through SerialIngest over a REAL pseudo-terminal
 * (socat, opened by node-serialport), and gateway CPU time per 1,000 frames, for the fm-frame,
 * nmea0183 and line profiles; then fm-frame into the real Ingest + SQLite reading log (durable).
 * A writer process (`cat`) plays the sensor, so its CPU is not counted; socat's copy between
 * the two ptys is not either (a real UART has no such process). A pty ignores the baud rate, so
 * this is the ceiling; the target is 16 lines × 115200 baud (11,520 B/s each) on one core.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrame } from '#device-sdk/frame/index';
import { Ingest } from '#gateway/ingest/ingest';
import type { IngestSink } from '#gateway/ingest/sink';
import { SerialIngest } from '#gateway/ingest/serial/index';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { nmeaSentence } from '#hardware/sensors/index';
import type { BenchRow } from './harness.js';

const LINE_BYTES_PER_S = 115_200 / 10; // 8N1: 10 bits per byte
const LINES = 16;
const N = Number(process.env.FM_BENCH_SERIAL_FRAMES ?? 100_000);

interface Run {
  frames: number;
  bytes: number;
  ms: number;
  cpuMs: number;
  readings: number;
}

async function startSocat(dir: string): Promise<{ device: string; sensor: string; proc: ChildProcess }> {
  const device = join(dir, 'dev');
  const sensor = join(dir, 'sensor');
  const proc = spawn('socat', [`pty,raw,echo=0,link=${device}`, `pty,raw,echo=0,link=${sensor}`], { stdio: 'ignore' });
  const until = Date.now() + 20_000;
  while (!(existsSync(device) && existsSync(sensor))) {
    if (Date.now() > until) throw new Error('socat did not start');
    await new Promise((r) => setTimeout(r, 10));
  }
  return { device, sensor, proc };
}

async function run(profile: string, stream: Buffer, frames: number, sink: IngestSink): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-serial-bench-'));
  const pty = await startSocat(dir);
  const ingest = new SerialIngest({ ports: [{ path: pty.device, baud: 115200, profile, device: 'bench' }], sink });
  try {
    ingest.start();
    while (ingest.stats().totals.open === 0) await new Promise((r) => setTimeout(r, 5));
    const file = join(dir, 'stream.bin');
    writeFileSync(file, stream);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const writer = spawn('sh', ['-c', `cat '${file}' > '${pty.sensor}'`], { stdio: 'ignore' });
    const deadline = Date.now() + 300_000;
    while (ingest.stats().ports[0]!.parser.frames < frames) {
      if (Date.now() > deadline) throw new Error(`${profile}: only ${ingest.stats().ports[0]!.parser.frames} of ${frames} frames`);
      await new Promise((r) => setTimeout(r, 5));
    }
    await ingest.whenIdle();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    writer.kill();
    const st = ingest.stats().ports[0]!;
    if (st.parser.rejected !== 0) throw new Error(`${profile}: ${st.parser.rejected} rejected`);
    return { frames, bytes: stream.length, ms, cpuMs: (cpu.user + cpu.system) / 1000, readings: st.readingsCommitted };
  } finally {
    await ingest.stop();
    pty.proc.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

function rows(label: string, r: Run): BenchRow[] {
  const framesPerS = (r.frames / r.ms) * 1000;
  const cpuPer1000 = (r.cpuMs / r.frames) * 1000;
  const frameBytes = r.bytes / r.frames;
  // 16 lines at full rate: frames/s needed, and the share of one core that costs at this CPU per frame.
  const needFramesPerS = (LINES * LINE_BYTES_PER_S) / frameBytes;
  const coreShare = (needFramesPerS * cpuPer1000) / 1000 / 1000;
  return [
    { name: `${label}: frames/s over a pty (${frameBytes.toFixed(0)} B/frame)`, value: Math.round(framesPerS), unit: 'frames/s', target: `>= ${Math.round(needFramesPerS)} (16 × 115200 baud)`, met: framesPerS >= needFramesPerS, anchor: 'serialport over socat: 450k–700k 18-byte lines/s (read only)' },
    { name: `${label}: readings/s stored`, value: Math.round((r.readings / r.ms) * 1000), unit: 'readings/s' },
    { name: `${label}: gateway CPU per 1,000 frames`, value: Number(cpuPer1000.toFixed(2)), unit: 'ms' },
    { name: `${label}: one core's share for 16 × 115200-baud lines`, value: Number((coreShare * 100).toFixed(1)), unit: '%', target: '< 50 (room to spare)', met: coreShare < 0.5 },
  ];
}

const nullSink: IngestSink = { submit: () => Promise.resolve() };

/**
 * Sixteen lines at their real rate: 16 socat pairs, a writer process sending 10 fm-frames
 * (300 B) per 26 ms to each (≈ 11.5 kB/s, a saturated 115200-baud line) in small writes as a
 * USB adapter delivers them, into Ingest + SQLite. Measures the gateway's CPU share while it
 * keeps up, and that every frame arrived.
 */
const WRITER = `
const fs = require('node:fs');
const { paths, frameHex, perTick, tickMs, ticks } = JSON.parse(process.argv[1]);
const frame = Buffer.from(frameHex, 'hex');
const chunk = Buffer.concat(Array.from({ length: perTick }, () => frame));
const fds = paths.map((p) => fs.openSync(p, 'w'));
let n = 0;
const t = setInterval(() => {
  for (const fd of fds) fs.writeSync(fd, chunk);
  if (++n === ticks) { clearInterval(t); fds.forEach((fd) => fs.closeSync(fd)); }
}, tickMs);
`;

async function runSixteen(sinkFor: () => IngestSink): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-serial-16-'));
  const pairs: Awaited<ReturnType<typeof startSocat>>[] = [];
  let ingest: SerialIngest | undefined;
  try {
    for (let i = 0; i < LINES; i++) {
      const d = join(dir, `l${i}`);
      mkdirSync(d);
      pairs.push(await startSocat(d));
    }
    ingest = new SerialIngest({ ports: pairs.map((p, i) => ({ path: p.device, baud: 115200, profile: 'fm-frame', device: `line${i}` })), sink: sinkFor() });
    ingest.start();
    while (ingest.stats().totals.open < LINES) await new Promise((r) => setTimeout(r, 5));
    const frame = encodeFrame({ seq: 1, readings: [{ sensor: 't', value: 21.5, type: 'i16', exp: -1 }, { sensor: 'h', value: 40 }, { sensor: 'p', value: 1013.25, type: 'f32' }] });
    const perTick = 10;
    const tickMs = Math.round((perTick * frame.length * 1000) / LINE_BYTES_PER_S);
    const ticks = 200;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const writer = spawn(process.execPath, ['-e', WRITER, JSON.stringify({ paths: pairs.map((p) => p.sensor), frameHex: Buffer.from(frame).toString('hex'), perTick, tickMs, ticks })], { stdio: 'ignore' });
    const total = LINES * perTick * ticks;
    const deadline = Date.now() + 120_000;
    while (ingest.stats().ports.reduce((a, p) => a + p.parser.frames, 0) < total) {
      if (Date.now() > deadline) throw new Error('16 lines: frames missing');
      await new Promise((r) => setTimeout(r, 20));
    }
    await ingest.whenIdle();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    writer.kill();
    const cpuShare = (cpu.user + cpu.system) / 1000 / ms;
    const bytesPerLine = (perTick * frame.length * 1000) / tickMs;
    return [
      { name: `16 lines × ${Math.round(bytesPerLine)} B/s (fm-frame, ${frame.length} B, small writes) into Ingest + SQLite: frames`, value: total, unit: 'frames', anchor: `all arrived, ${ingest.stats().totals.rejected} rejected` },
      { name: '16 lines at 115200 baud: gateway CPU while keeping up', value: Number((cpuShare * 100).toFixed(1)), unit: '% of one core', target: '< 50 (room to spare)', met: cpuShare < 0.5 },
    ];
  } finally {
    await ingest?.stop();
    for (const p of pairs) p.proc.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function serialBench(): Promise<BenchRow[]> {
  if (spawnSync('socat', ['-V'], { stdio: 'ignore' }).status !== 0) throw new Error('socat is required for the serial benchmark');
  const fm = Buffer.concat(
    Array.from({ length: N }, (_, i) =>
      encodeFrame({ seq: i & 0xffff, readings: [{ sensor: 't', value: 20 + (i % 100) / 10, type: 'i16', exp: -1 }, { sensor: 'h', value: 40 + (i % 20) }, { sensor: 'p', value: 1013.25, type: 'f32' }] }),
    ),
  );
  const gga = Buffer.from(Array.from({ length: N }, (_, i) => nmeaSentence(`GPGGA,${String(120000 + (i % 5000)).padStart(6, '0')}.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,`)).join(''), 'latin1');
  const line = Buffer.from(Array.from({ length: N }, (_, i) => `t=${(20 + (i % 100) / 10).toFixed(1)} h=${40 + (i % 20)} p=1013.2\n`).join(''), 'latin1');
  const out: BenchRow[] = [];
  out.push(...rows('fm-frame, 3 readings, null sink', await run('fm-frame', fm, N, nullSink)));
  out.push(...rows('nmea0183 GGA, 6 readings, null sink', await run('nmea0183', gga, N, nullSink)));
  out.push(...rows('line, 3 pairs, null sink', await run('line', line, N, nullSink)));
  const dir = mkdtempSync(join(tmpdir(), 'fm-serial-bench-db-'));
  const logs: SqliteReadingLog[] = [];
  const durable = () => {
    const log = new SqliteReadingLog(join(dir, `log${logs.length}.db`));
    logs.push(log);
    return new Ingest(log, { commitIntervalMs: 0, maxBatchReadings: 5000 });
  };
  try {
    out.push(...rows('fm-frame into Ingest + SQLite (synchronous=FULL)', await run('fm-frame', fm, N, durable())));
    out.push(...(await runSixteen(durable)));
  } finally {
    for (const log of logs) log.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
