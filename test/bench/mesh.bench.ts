import type { BenchRow } from './harness.js';
import { Simulation } from '#gateway/mesh/simulator';
import { meshTuning } from '#gateway/mesh/config';
import { encodeMeta, emptyMeta } from '#gateway/mesh/meta';
import { SeededRandom } from '#gateway/mesh/random';
import type { NetworkConditions } from '#gateway/mesh/memory-network';

/**
 * Mesh benchmarks on the seeded simulator. Every packet is sealed with AES-256-GCM as
 * on the wire. `MESH_BENCH=conv,crash,false,bytes,wall` runs a subset, `MESH_BENCH_N=10,100`
 * limits the sizes, `MESH_BENCH_MINUTES` shortens the one-hour runs.
 */
const lan = meshTuning('lan');
const wanted = (process.env.MESH_BENCH ?? 'conv,crash,false,bytes,wall').split(',');
const sizes = (process.env.MESH_BENCH_N ?? '10,100,1000').split(',').map(Number);
const net = (loss: number): NetworkConditions => ({ loss, delayMs: 2, jitterMs: 3 });

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

const serf: Record<number, Record<number, string>> = {
  10: { 0: 'Serf N=30: 1.4 s', 0.1: 'Serf N=30: 1.6 s', 0.3: 'Serf N=30: 2.0 s' },
  100: { 0: 'Serf 1.6 s', 0.1: 'Serf 1.8 s', 0.3: 'Serf 2.2 s' },
  1000: { 0: 'Serf 2.0 s', 0.1: 'Serf 2.2 s', 0.3: 'Serf 2.8 s' },
};

/** Time until 99.9% of the other members hold a new incarnation of one member's news. */
function convergence(n: number, loss: number, trials: number): number[] {
  const sim = new Simulation({ seed: 1000 + n + loss * 100, size: n, tuning: lan, conditions: net(loss) });
  sim.run(5000);
  const need = Math.ceil(0.999 * (n - 1));
  const times: number[] = [];
  for (let t = 0; t < trials; t++) {
    const subject = (t * 7919) % n;
    const node = sim.nodes[subject]!;
    node.setMeta(encodeMeta({ ...emptyMeta, backlog: t + 1 }));
    const inc = node.membership.self.incarnation;
    const start = sim.scheduler.monotonic();
    let learned = 0;
    let doneAt = -1;
    const seen = new Set<number>();
    const off = sim.onEvent((e) => {
      if (doneAt >= 0 || e.member.id !== node.id || e.member.incarnation < inc || seen.has(e.observer)) return;
      seen.add(e.observer);
      if (++learned >= need) doneAt = e.at;
    });
    sim.runUntil(() => doneAt >= 0, 60_000, 20);
    off();
    times.push(doneAt < 0 ? 60_000 : doneAt - start);
    // Let the update's retransmissions drain before the next one (shorter at N=1000: simulator time).
    sim.run(n >= 1000 ? 4000 : 8000);
  }
  return times;
}

/**
 * Per crash: ms until every live member holds the crashed one dead, and where that time goes:
 * crash → first suspicion (someone's probe failed), first suspicion → first death (the suspicion
 * timeout), first death → every member (dissemination).
 */
function crashDetection(n: number, loss: number, trials: number, stallGuard = true) {
  const tuning = stallGuard ? lan : meshTuning('lan', { stallThresholdMs: 0 });
  const sim = new Simulation({ seed: 2000 + n, size: n, tuning, conditions: net(loss) });
  sim.run(5000);
  const all: number[] = [];
  const each: number[] = [];
  const firstSuspect: number[] = [];
  const suspicion: number[] = [];
  const spread: number[] = [];
  for (let t = 0; t < trials; t++) {
    const victim = 1 + ((t * 37) % (n - 1));
    const id = sim.nodes[victim]!.id;
    const start = sim.scheduler.monotonic();
    const knowers = new Set<number>();
    let suspectAt = -1;
    let deadAt = -1;
    const off = sim.onEvent((e) => {
      if (e.member.id !== id || sim.scheduler.monotonic() < start) return;
      if (e.type === 'suspect' && suspectAt < 0) suspectAt = e.at;
      if ((e.type === 'dead' || e.type === 'left') && !knowers.has(e.observer)) {
        if (deadAt < 0) deadAt = e.at;
        knowers.add(e.observer);
        each.push(e.at - start);
      }
    });
    sim.crash(victim);
    const took = sim.runUntil(() => sim.live().every((i) => knowers.has(i)), 120_000, 50);
    off();
    all.push(took < 0 ? 120_000 : took);
    if (suspectAt >= 0 && deadAt >= 0) {
      firstSuspect.push(suspectAt - start);
      suspicion.push(deadAt - suspectAt);
      if (took >= 0) spread.push(start + took - deadAt);
    }
    sim.run(5000);
    sim.restart(victim, true);
    sim.run(20_000);
  }
  return { all, each, firstSuspect, suspicion, spread };
}

/** False dead declarations in a virtual hour with 10% of members stalling 5 s each minute. */
function falseDeaths(lifeguard: boolean, stallGuard: boolean, minutes: number): { views: number; incidents: number; wallS: number } {
  const n = 100;
  const tuning = meshTuning('lan', { lifeguard, stallThresholdMs: stallGuard ? 1000 : 0 });
  const sim = new Simulation({ seed: 3000, size: n, tuning, conditions: net(0.1) });
  const random = new SeededRandom(3001);
  let views = 0;
  const incidents = new Set<string>();
  sim.onEvent((e) => {
    if (e.type !== 'dead') return;
    views++;
    incidents.add(`${e.member.id}@${e.member.incarnation}`);
  });
  const started = performance.now();
  for (let minute = 0; minute < minutes; minute++) {
    const chosen = new Set<number>();
    while (chosen.size < n / 10) chosen.add(Math.floor(random.next() * n));
    for (const i of chosen) sim.scheduler.setTimeout(() => sim.stall(i, 5000), minute * 60_000 + Math.floor(random.next() * 55_000));
  }
  sim.run(minutes * 60_000);
  return { views, incidents: incidents.size, wallS: (performance.now() - started) / 1000 };
}

const typeNames = ['', 'ping', 'indirect', 'ack', 'nack', 'suspect', 'alive', 'dead', 'push-pull'];

/** Bytes out per member per second, with where they go (plaintext bytes per message type, suspicions). */
function bytesPerMember(n: number, loss: number): { bytes: number; detail: string } {
  const sim = new Simulation({ seed: 4000 + n, size: n, tuning: lan, conditions: net(loss) });
  sim.run(n >= 1000 ? 20_000 : 60_000);
  const sum = (f: (node: (typeof sim.nodes)[number]) => number) => sim.nodes.reduce((a, node) => a + f(node), 0);
  const byType = () => {
    const m = new Map<number, number>();
    for (const node of sim.nodes) for (const [k, v] of node.bytesOutByType) m.set(k, (m.get(k) ?? 0) + v);
    return m;
  };
  const before = { bytes: sim.totalBytesOut(), packets: sum((x) => x.metrics.packetsOut), fails: sum((x) => x.metrics.probeFailures), refutations: sum((x) => x.metrics.refutations), types: byType() };
  const span = n >= 1000 ? 60_000 : 5 * 60_000;
  sim.run(span);
  const per = (x: number) => x / n / (span / 1000);
  const types = [...byType()].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${typeNames[k]} ${per(v - (before.types.get(k) ?? 0)).toFixed(1)}`);
  const detail =
    `${per(sum((x) => x.metrics.packetsOut) - before.packets).toFixed(2)} packets/s; false suspicions ${(per(sum((x) => x.metrics.probeFailures) - before.fails) * 1000).toFixed(3)}` +
    ` and refutations ${(per(sum((x) => x.metrics.refutations) - before.refutations) * 1000).toFixed(3)} per 1000 member-s; plaintext B/s: ${types.join(', ')}`;
  return { bytes: (sim.totalBytesOut() - before.bytes) / n / (span / 1000), detail };
}

export default async function meshBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  // Long runs: show each row on stderr as soon as it is measured.
  const push = rows.push.bind(rows);
  rows.push = (...r: BenchRow[]) => {
    for (const x of r) process.stderr.write(`  ${x.name}: ${x.value} ${x.unit}\n`);
    return push(...r);
  };
  if (wanted.includes('conv')) {
    for (const n of sizes) {
      for (const loss of [0, 0.1, 0.3]) {
        const times = convergence(n, loss, n >= 1000 ? 3 : 15);
        const p50 = quantile(times, 0.5) / 1000;
        const max = Math.max(...times) / 1000;
        const target = loss === 0.1 && n === 100 ? 2.0 : loss === 0.1 && n === 1000 ? 2.5 : undefined;
        rows.push({
          name: `99.9% learn an update, N=${n}, ${loss * 100}% loss (median of ${times.length}; worst ${max.toFixed(2)} s)`,
          value: p50,
          unit: 's',
          ...(target !== undefined ? { target: `<= ${target} s`, met: p50 <= target } : {}),
          anchor: serf[n]![loss],
        });
      }
    }
  }
  if (wanted.includes('crash')) {
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const { all, each, firstSuspect, suspicion, spread } = crashDetection(100, 0.1, 20);
    rows.push({ name: 'crash → every live member holds it dead, N=100, 10% loss, p50 (20 crashes)', value: quantile(all, 0.5) / 1000, unit: 's' });
    rows.push({ name: 'crash → every live member holds it dead, N=100, 10% loss, p99', value: quantile(all, 0.99) / 1000, unit: 's', target: '<= 12 s', met: quantile(all, 0.99) <= 12_000, anchor: 'memberlist LAN suspicion 8-48 s at N=100' });
    rows.push({ name: 'crash → one member learns it, p50 / p99 over all members', value: quantile(each, 0.5) / 1000, unit: `s (p99 ${(quantile(each, 0.99) / 1000).toFixed(2)} s)` });
    rows.push({ name: 'crash → first suspicion, p50 (first probe of the victim + probe interval)', value: quantile(firstSuspect, 0.5) / 1000, unit: `s (max ${s(Math.max(...firstSuspect))})` });
    rows.push({ name: 'first suspicion → first death (suspicion timeout, stall guard inside it), p50', value: quantile(suspicion, 0.5) / 1000, unit: `s (max ${s(Math.max(...suspicion))}; Lifeguard min 8 s)` });
    rows.push({ name: 'first death → every live member, p50', value: quantile(spread, 0.5) / 1000, unit: `s (max ${s(Math.max(...spread))})` });
    const off = crashDetection(100, 0.1, 20, false);
    rows.push({ name: 'stall guard off: crash → every live member holds it dead, p50', value: quantile(off.all, 0.5) / 1000, unit: `s (p99 ${s(quantile(off.all, 0.99))}; the guard's cost)` });
  }
  if (wanted.includes('false')) {
    const minutes = Number(process.env.MESH_BENCH_MINUTES ?? 60);
    const on = falseDeaths(true, true, minutes);
    const lgOnly = falseDeaths(true, false, minutes);
    const off = falseDeaths(false, false, minutes);
    const label = `N=100, 10% loss, 10% stalling 5 s/min, ${minutes} virtual min`;
    rows.push({ name: `false dead views, Lifeguard + stall guard, ${label} (${on.incidents} incidents)`, value: on.views, unit: 'views', target: '0', met: on.views === 0 });
    rows.push({ name: `false dead views, Lifeguard only (memberlist behaviour) (${lgOnly.incidents} incidents)`, value: lgOnly.views, unit: 'views' });
    rows.push({ name: `false dead views, Lifeguard off (plain SWIM) (${off.incidents} incidents)`, value: off.views, unit: 'views', anchor: 'Lifeguard paper: >50x fewer false positives' });
  }
  if (wanted.includes('bytes')) {
    for (const loss of [0, 0.1]) {
      let base = 0;
      for (const n of sizes) {
        const { bytes, detail } = bytesPerMember(n, loss);
        if (base === 0) base = bytes;
        const dev = (bytes / base - 1) * 100;
        rows.push({
          name: `bytes out per member, N=${n}, ${loss * 100}% loss, steady state (${detail})`,
          value: bytes,
          unit: `B/s (${dev >= 0 ? '+' : ''}${dev.toFixed(1)}% vs N=${sizes[0]})`,
          target: `within ±10% of N=${sizes[0]}`,
          met: Math.abs(dev) <= 10,
        });
      }
    }
  }
  if (wanted.includes('wall')) {
    const minutes = Number(process.env.MESH_BENCH_MINUTES ?? 60);
    const started = performance.now();
    const sim = new Simulation({ seed: 5000, size: 1000, tuning: lan, conditions: net(0.01) });
    sim.run(minutes * 60_000);
    const wall = (performance.now() - started) / 1000;
    rows.push({
      name: `simulator wall time, 1000 members × ${minutes} virtual min, 1% loss (${(sim.scheduler.fired / 1e6).toFixed(1)} M events, all packets AES-GCM sealed)`,
      value: wall,
      unit: 's',
      target: minutes === 60 ? '<= 600 s' : undefined,
      met: minutes === 60 ? wall <= 600 : undefined,
    });
  }
  return rows;
}
