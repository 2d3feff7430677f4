/**
 * Modbus master throughput (gateway/src/ingest/modbus/README.md).
 *
 * 1. Modbus TCP: 50 slaves × 20 holding registers polled at 10 Hz into the real Ingest and
 *    SQLite reading log (synchronous=FULL). Slaves run in a separate process (modbus-sim.ts).
 *    Reported: readings/s committed, polls made against the schedule, skipped slots, the worst
 *    delay from slot to poll, and the gateway process's CPU as % of one core.
 * 2. Modbus RTU at 9600 and 115200 baud over a socat pty, the slave side paced to the line rate
 *    (a pty ignores baud). Four slaves poll faster than the line can carry, so the bus is
 *    saturated; reported: transactions/s against the line limit
 *    1 / ((request + response bytes) × 11 bits / baud + 2 × t3.5). Target ≥ 90 %.
 *
 * Run once with commits on the main thread (the default) and once on the writer thread
 * (`ingest.commitThread`), which keeps SQLite's fsync off the event loop the poller runs on.
 * FM_BENCH_MODBUS_S sets the seconds of each run (default 10).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { Ingest } from '#gateway/ingest/ingest';
import { ModbusIngest } from '#gateway/ingest/modbus/modbus-ingest';
import { interFrameGapMs } from '#gateway/ingest/modbus/rtu-frame';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import type { BenchRow } from './harness.js';

const SECONDS = Number(process.env.FM_BENCH_MODBUS_S ?? 0);
const SIM = join(import.meta.dirname, 'modbus-sim.ts');

function sim(args: string[]): Promise<{ proc: ChildProcess; line: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', SIM, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.once('exit', (code) => reject(new Error(`modbus-sim exited ${code}`)));
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ proc, line: out.slice(0, nl) });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tcp(commitThread: boolean): Promise<BenchRow[]> {
  const slaves = 50;
  const regs = 20;
  const seconds = SECONDS || 10;
  const { proc, line } = await sim(['tcp', String(slaves), String(regs)]);
  const ports = JSON.parse(line) as number[];
  const dir = mkdtempSync(join(tmpdir(), 'fm-modbus-bench-'));
  const log = new SqliteReadingLog(join(dir, 'gateway.db'), { commitThread });
  // The gateway's defaults (config/ingest.ts): group commit as soon as the last one is done.
  const ingest = new Ingest(log, { commitIntervalMs: 0, maxBatchReadings: 5000 });
  const registers = Array.from({ length: regs }, (_, i) => ({ sensor: `r${i}`, function: 'holding', address: i }));
  const config = parseGatewayConfig({ modbus: { tcp: ports.map((port, i) => ({ host: '127.0.0.1', port, slaves: [{ unit: 1, device: `meter-${i}`, pollMs: 100, registers }] })) } }).modbus;
  const modbus = new ModbusIngest({ config, sink: ingest });
  try {
    modbus.start();
    while (modbus.stats().buses.some((b) => b.state !== 'up')) await sleep(10);
    await sleep(1500); // the first poll of each after connect; measure steady state
    const s0 = modbus.stats().slaves;
    const committed0 = ingest.stats.ingested;
    for (const p of modbus.slavePollers) p.resetMaxLate();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const s1 = modbus.stats().slaves;
    const committed = ingest.stats.ingested - committed0;
    const polls = s1.reduce((a, s, i) => a + s.pollsOk - s0[i]!.pollsOk, 0);
    const failed = s1.reduce((a, s, i) => a + s.pollsFailed + s.pollsPartial - s0[i]!.pollsFailed - s0[i]!.pollsPartial, 0);
    const skipped = s1.reduce((a, s, i) => a + s.pollsSkipped - s0[i]!.pollsSkipped, 0);
    const scheduled = (slaves * wall) / 100;
    const maxLate = Math.max(...s1.map((s) => s.maxLateMs));
    return [
      { name: `TCP 50 slaves × 20 registers @ 10 Hz, commits on the ${commitThread ? 'writer thread' : 'main thread'}: readings committed`, value: Math.round((committed * 1000) / wall), unit: 'readings/s', target: '>= 10000 (50 × 20 × 10)', met: (committed * 1000) / wall >= 9900 },
      { name: '  polls made vs scheduled', value: Number(((100 * polls) / scheduled).toFixed(2)), unit: '%', target: '100 (all on time)', met: polls >= scheduled * 0.99 && skipped === 0 && failed === 0 },
      { name: '  polls skipped / failed', value: skipped + failed, unit: 'polls', target: '0', met: skipped + failed === 0 },
      { name: '  worst delay slot → poll start', value: Number(maxLate.toFixed(2)), unit: 'ms', target: '< 50 (half an interval)', met: maxLate < 50 },
      { name: '  gateway CPU (poller + ingest + SQLite FULL)', value: Number(((100 * (cpu.user + cpu.system)) / 1000 / wall).toFixed(1)), unit: '% of one core' },
    ];
  } finally {
    await modbus.stop();
    await ingest.stop();
    await log.closeAsync();
    proc.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function rtu(baud: number): Promise<BenchRow[]> {
  const regs = 10;
  const seconds = SECONDS || 10;
  const dir = mkdtempSync(join(tmpdir(), 'fm-modbus-rtu-bench-'));
  const master = join(dir, 'master');
  const slaveEnd = join(dir, 'slave');
  const socat = spawn('socat', [`pty,raw,echo=0,link=${master}`, `pty,raw,echo=0,link=${slaveEnd}`], { stdio: 'ignore' });
  while (!(existsSync(master) && existsSync(slaveEnd))) await sleep(10);
  const { proc } = await sim(['rtu', slaveEnd, String(baud), String(regs)]);
  const registers = Array.from({ length: regs }, (_, i) => ({ sensor: `r${i}`, function: 'holding', address: i }));
  const config = parseGatewayConfig({ modbus: { rtu: [{ path: master, baud, slaves: [1, 2, 3, 4].map((unit) => ({ unit, device: `s${unit}`, pollMs: 10, timeoutMs: 1000, registers })) }] } }).modbus;
  const sink = { submit: async () => {} };
  const modbus = new ModbusIngest({ config, sink });
  try {
    modbus.start();
    while (modbus.stats().buses[0]!.state !== 'up') await sleep(10);
    await sleep(1000);
    const tx0 = modbus.stats().slaves.reduce((a, s) => a + s.pollsOk, 0);
    const countErrors = () => modbus.stats().slaves.reduce((a, s) => a + Object.values(s.errors).reduce((x, y) => x + y, 0), 0);
    const errors0 = countErrors();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const st = modbus.stats().slaves;
    const done = st.reduce((a, s) => a + s.pollsOk, 0) - tx0;
    const errors = countErrors() - errors0;
    const reasons = [...new Set(st.flatMap((s) => Object.entries(s.errors).filter(([, n]) => n > 0).map(([r]) => r)))].join(', ');
    const bytes = 8 + 5 + 2 * regs;
    const limit = 1000 / ((bytes * 11 * 1000) / baud + 2 * interFrameGapMs(baud));
    const rate = (done * 1000) / wall;
    return [
      { name: `RTU ${baud} baud, 10-register reads, bus saturated: transactions`, value: Number(rate.toFixed(2)), unit: '/s', anchor: `line limit ${limit.toFixed(2)}/s` },
      { name: `  share of the line limit (${bytes} B × 11 bit + 2 × t3.5)`, value: Number(((100 * rate) / limit).toFixed(1)), unit: '%', target: '>= 90', met: rate >= 0.9 * limit },
      { name: `  errors in the measured window${reasons ? ` (seen: ${reasons})` : ''}`, value: errors, unit: 'count', target: '0', met: errors === 0 },
      { name: '  gateway CPU', value: Number(((100 * (cpu.user + cpu.system)) / 1000 / wall).toFixed(1)), unit: '% of one core' },
    ];
  } finally {
    await modbus.stop();
    proc.kill();
    socat.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function modbusBench(): Promise<BenchRow[]> {
  return [...(await tcp(false)), ...(await tcp(true)), ...(await rtu(9600)), ...(await rtu(115200))];
}
