import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { v8HeapFlags } from '#hardware/boards/index';
import type { BenchRow } from './harness.js';
import { makeCage, type Cage } from './footprint/constraints.js';
import { bareAedesScript, FLOOR_ARGV, gatewayConfig, sourceBin, unpackedBundle, watch, workDir, type Watched } from './footprint/processes.js';
import { loadAverage, mb, median, sampleProc, trend, type ProcSample } from './footprint/proc-sample.js';
import { startSeriesLoad, type SeriesLoad } from './footprint/series-load.js';

/**
 * Footprint of one gateway as a Pi runs it: the `npm run bundle` output started as the systemd
 * unit starts it, 10 MQTT devices publishing 1,000 (then 10,000) series at 1 Hz. Every 10 s:
 * RSS and V8 heap; at the end CPU µs and SQLite bytes written per reading, start until
 * /healthz answers, and whether RSS is flat (least-squares trend within ±5% over the run).
 * In the same run, beside it: an idle `node -e` (the floor no Node program goes below), bare
 * aedes under the same load with no storage, the gateway without the board's V8 flags (their
 * effect), the gateway from TypeScript source through tsx; then the bundle constrained like a
 * Zero 2 W: one core, a 128 MiB cgroup, the data directory on a throttled block device.
 *
 * FM_FOOTPRINT_SECONDS (default 120) sets each loaded run's length; FM_SOAK=1 makes it an hour.
 * FM_FOOTPRINT_BUNDLE=DIR reuses an unpacked bundle (default: bundle HEAD into a temp dir).
 */
const SECONDS = process.env.FM_SOAK === '1' ? 3600 : Number(process.env.FM_FOOTPRINT_SECONDS ?? 120);
const SAMPLE_MS = 10_000;
const STARTS = Number(process.env.FM_FOOTPRINT_STARTS ?? 5);
/** A Zero 2 W: 512 MiB, budget = min(128, 25%) (hardware/src/boards/catalog.ts). */
const ZERO_BUDGET_MB = 128;
const BOARD_FLAGS = v8HeapFlags(ZERO_BUDGET_MB);

interface Subject {
  label: string;
  argv: string[];
  /** `gateway` speaks HTTP (heap, readings from /metrics); `aedes` prints its port; `idle` neither. */
  kind: 'gateway' | 'aedes' | 'idle';
  cage?: Cage;
  dataDir?: string;
}

interface Measured {
  label: string;
  startMs?: number;
  idleRss?: number;
  samples: ProcSample[];
  heapUsed: number[];
  readings: number;
  late: number;
  failure?: string;
  cage?: { oomKills: number; peakBytes: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metrics(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(\w+) ([\d.e+-]+)$/gmu)) out[m[1]!] = Number(m[2]);
  return out;
}

/** spawn → first 200 from /healthz, in ms; the gateway prints its HTTP address once listening. */
async function healthzAfter(p: Watched): Promise<{ base: string; brokerPort: number; ms: number }> {
  const { match } = await p.waitFor(/broker: mqtt:\/\/[^:]+:(\d+)\nhttp: (http:\/\/\S+\/)/u);
  const base = match[2]!;
  for (;;) {
    const res = await fetch(`${base}healthz`).catch(() => undefined);
    if (res?.ok) return { base, brokerPort: Number(match[1]), ms: performance.now() - p.startedAt };
    await sleep(2);
  }
}

async function measure(s: Subject, series: number, work: string): Promise<Measured> {
  const out: Measured = { label: s.label, samples: [], heapUsed: [], readings: 0, late: 0 };
  const p = watch(s.cage ? s.cage.wrap(s.argv) : s.argv, { cwd: work });
  let load: SeriesLoad | undefined;
  try {
    let base: string | undefined;
    let port: number | undefined;
    if (s.kind === 'gateway') {
      const h = await healthzAfter(p);
      [base, port, out.startMs] = [h.base, h.brokerPort, h.ms];
    } else if (s.kind === 'aedes') {
      port = Number((await p.waitFor(/port (\d+)/u)).match[1]);
    }
    const t0 = performance.now();
    await sleep(10_000);
    out.idleRss = sampleProc(p.pid, 10_000).rssBytes;
    const before = base ? (await metrics(base)).fieldmesh_readings_ingested_total! : 0;
    if (port !== undefined) load = startSeriesLoad(port, series);
    const end = performance.now() + SECONDS * 1000;
    while (performance.now() < end) {
      await sleep(Math.min(SAMPLE_MS, end - performance.now()));
      if (p.exited()) throw new Error(`exited ${JSON.stringify(p.exited())}: ${p.stderrTail().slice(-300)}`);
      out.samples.push(sampleProc(p.pid, performance.now() - t0));
      if (base) out.heapUsed.push((await metrics(base)).nodejs_heap_size_used_bytes!);
    }
    out.readings = base ? (await metrics(base)).fieldmesh_readings_ingested_total! - before : (load?.acked() ?? 0);
    out.late = load?.late() ?? 0;
  } catch (err) {
    out.failure = (err as Error).message.split('\n')[0]!.slice(0, 200);
  } finally {
    await load?.stop();
    out.cage = s.cage?.report();
    await p.kill();
  }
  return out;
}

function rows(m: Measured, floor: number, series: number): BenchRow[] {
  const name = `${m.label}, ${series / 1000}k series @ 1 Hz`;
  if (m.failure) return [{ name, value: NaN, unit: '', anchor: `FAILED: ${m.failure}${m.cage ? `; OOM kills ${m.cage.oomKills}` : ''}` }];
  const rss = m.samples.map((x) => x.rssBytes);
  const t = m.samples.map((x) => x.atMs);
  const rssTrend = trend(t, rss);
  const first = m.samples[0]!;
  const last = m.samples.at(-1)!;
  // CPU and bytes over the loaded window only (the first sample is 10 s into the load).
  const readings = m.readings;
  const cpu = (last.cpuMicros - first.cpuMicros) / Math.max(1, readings * (1 - SAMPLE_MS / (SECONDS * 1000)));
  const wrote = (last.writeBytes - first.writeBytes) / Math.max(1, readings * (1 - SAMPLE_MS / (SECONDS * 1000)));
  const out: BenchRow[] = [];
  if (m.startMs !== undefined) out.push({ name: `${name}: start → /healthz`, value: Math.round(m.startMs), unit: 'ms', target: '<= 300', met: m.startMs <= 300 });
  if (m.idleRss !== undefined) {
    const over = mb(m.idleRss) - floor;
    out.push({ name: `${name}: RSS idle, 10 s after start`, value: Number(mb(m.idleRss).toFixed(1)), unit: 'MiB', target: m.label.includes('bundle') ? '<= floor + 15' : undefined, met: m.label.includes('bundle') ? over <= 15 : undefined, anchor: `floor ${floor.toFixed(1)} MiB (+${over.toFixed(1)})` });
  }
  const over = mb(median(rss)) - floor;
  out.push({
    name: `${name}: RSS under load (median of ${rss.length})`,
    value: Number(mb(median(rss)).toFixed(1)),
    unit: 'MiB',
    target: m.label.includes('bundle') ? '<= floor + 25, trend ±5%' : undefined,
    met: m.label.includes('bundle') ? over <= 25 && Math.abs(rssTrend) <= 0.05 : undefined,
    anchor: `floor +${over.toFixed(1)}; peak ${mb(Math.max(...rss)).toFixed(1)}; trend ${(rssTrend * 100).toFixed(1)}% over ${SECONDS} s${m.cage ? `; cgroup peak ${mb(m.cage.peakBytes).toFixed(1)} MiB, OOM kills ${m.cage.oomKills}` : ''}`,
  });
  if (m.heapUsed.length) {
    out.push({ name: `${name}: V8 heap used (median)`, value: Number(mb(median(m.heapUsed)).toFixed(1)), unit: 'MiB', anchor: `trend ${(trend(t, m.heapUsed) * 100).toFixed(1)}%; max ${mb(Math.max(...m.heapUsed)).toFixed(1)}` });
  }
  if (readings > 0) {
    out.push({ name: `${name}: CPU per reading`, value: Number(cpu.toFixed(2)), unit: 'µs', anchor: `${readings} readings; ${m.late} packs late (PUBACK after 1 s)` });
    if (Number.isFinite(wrote)) out.push({ name: `${name}: bytes written to storage per reading`, value: Number(wrote.toFixed(1)), unit: 'B', anchor: '/proc/PID/io write_bytes (WAL, checkpoints, journal)' });
  }
  return out;
}

export default async function footprintBench(): Promise<BenchRow[]> {
  const work = workDir();
  const out: BenchRow[] = [];
  const cages: Cage[] = [];
  try {
    const bundle = await unpackedBundle(work);
    const aedes = bareAedesScript(bundle);
    const node = process.execPath;
    const gw = (label: string, flags: string[], dir: string, bin = join(bundle, 'gateway/bin/fieldmesh.js'), cage?: Cage): Subject => {
      const dataDir = join(work, dir);
      return { label, kind: 'gateway', cage, dataDir, argv: [node, ...flags, bin, 'gateway', '--config', gatewayConfig(join(work, `${dir}.d`), dataDir), '--log-level', 'warn'] };
    };
    out.push({ name: 'load average at the start (1, 5, 15 min)', value: NaN, unit: '', anchor: loadAverage() });

    // Start time alone, idle, fresh data directory each time: median of STARTS.
    const starts: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      const s = gw('bundle', BOARD_FLAGS, `start${i}`);
      const p = watch(s.argv, { cwd: work });
      starts.push((await healthzAfter(p)).ms);
      await p.kill();
    }
    out.push({ name: `bundle + board V8 flags: start → /healthz (median of ${STARTS}, fresh data dir)`, value: Math.round(median(starts)), unit: 'ms', target: '<= 300', met: median(starts) <= 300, anchor: `runs ${starts.map((x) => Math.round(x)).join(' ')}; load ${loadAverage()}` });

    const floors = new Map<number, number>();
    for (const series of [1000, 10_000]) {
      const subjects: Subject[] = [
        { label: 'idle node -e (floor)', kind: 'idle', argv: FLOOR_ARGV },
        { label: 'bare aedes, no storage', kind: 'aedes', argv: [node, aedes] },
        gw('bundle + board V8 flags', BOARD_FLAGS, `flags${series}`),
        gw('bundle, V8 defaults', [], `plain${series}`),
        ...(series === 1000 ? [gw('from source (tsx), V8 defaults', [], `tsx${series}`, sourceBin)] : []),
      ];
      const loadBefore = loadAverage();
      const results = await Promise.all(subjects.map((s) => measure(s, series, work)));
      const floor = mb(median(results[0]!.samples.map((x) => x.rssBytes)));
      floors.set(series, floor);
      out.push({ name: `idle node -e (floor), same run`, value: Number(floor.toFixed(1)), unit: 'MiB', anchor: `load ${loadBefore} → ${loadAverage()}` });
      for (const r of results.slice(1)) out.push(...rows(r, floor, series));
    }

    // Like a Zero 2 W: one core, 128 MiB, SD-card-slow fsync under the data directory.
    for (const series of [1000, 10_000]) {
      const dir = join(work, `caged${series}`);
      const cage = makeCage(`${series}`, { cpus: '0', memoryMaxBytes: 128 * 2 ** 20, throttledDisk: { dir, writeIops: 100, writeBps: 8 * 2 ** 20, sizeMb: 512 } });
      cages.push(cage);
      const s = gw(`bundle + board V8 flags, ${cage.describe()}`, BOARD_FLAGS, `caged${series}/data`, undefined, cage);
      const loadBefore = loadAverage();
      const r = await measure(s, series, work);
      const extra = cage.missing();
      // The floor of the unconstrained run of the same size: a cgroup does not change Node's own cost.
      out.push(...rows(r, floors.get(series)!, series).map((row) => ({ ...row, target: undefined, met: undefined })));
      out.push({ name: `  constrained run ${series / 1000}k: load average`, value: NaN, unit: '', anchor: `${loadBefore} → ${loadAverage()}${extra ? `; NOT constrained: ${extra}` : ''}` });
      cage.close();
    }
  } finally {
    for (const c of cages) {
      try {
        c.close();
      } catch {
        // Already closed after its run.
      }
    }
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}
