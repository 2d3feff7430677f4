import { statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToIo } from 'node:timers/promises';
import type { RelayPeer } from '@fieldmesh/gateway/relay/relay-peers';
import { labConfig, startCloud, tempDir, waitFor } from '../cloud-bridge/cloud-fixture.js';
import { RelayGateway } from '../gateway/relay/relay-fixture.js';
import type { BenchRow } from './harness.js';

/**
 * Issue 6 benchmarks, all in one process on loopback (cloud bridge with aedes and SQLite, gateways
 * with SQLite logs, MQTT uplinks and relay TCP channels):
 *  1. relay throughput against direct uplink: a pre-filled backlog drained either way;
 *  2. replication lag (k = 1) while the origin ingests as fast as it can;
 *  3. extra CPU and disk of k = 1 replication against the ingest (log append) alone.
 */
const N = Number(process.env.FM_RELAY_BENCH_READINGS ?? 200_000);
const CHUNK = 1000;

async function fill(gw: RelayGateway, n: number): Promise<void> {
  for (let i = 0; i < n; i += CHUNK) {
    gw.append(Math.min(CHUNK, n - i));
    await yieldToIo();
  }
}

/** Readings/s from the first watermark move to the last reading acked. */
async function drainRate(gw: RelayGateway, total: number): Promise<number> {
  const start = gw.log.ackWatermark();
  let t0 = 0;
  await waitFor(() => {
    const w = gw.log.ackWatermark();
    if (t0 === 0 && w > start) t0 = performance.now();
    return w >= total;
  }, 'drain', 600_000);
  return (total - start) / ((performance.now() - t0) / 1000);
}

function fileBytes(...files: string[]): number {
  return files.filter((f) => existsSync(f)).reduce((n, f) => n + statSync(f).size, 0);
}

export default async function relayBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const t = tempDir('fm-relay-bench-');
  const cloud = await startCloud(labConfig(join(t.dir, 'cloud')));
  const stops: Array<() => Promise<void>> = [];
  try {
    // ── 1. direct vs relayed drain ─────────────────────────────────────────────────────────
    {
      const direct = await RelayGateway.start('gw-direct', t.dir, cloud.brokerPort, () => []);
      stops.push(() => direct.stop());
      direct.gate.cut();
      await waitFor(() => direct.uplink.stats().state !== 'online', 'cut');
      await fill(direct, N);
      direct.gate.open();
      const directRate = await drainRate(direct, N);
      rows.push({ name: `direct uplink drain, ${N} readings backlog`, value: Math.round(directRate), unit: 'readings/s', anchor: 'issue 2 target >= 100000' });

      let peers: RelayPeer[] = [];
      const b = await RelayGateway.start('gw-relay', t.dir, cloud.brokerPort, () => []);
      stops.push(() => b.stop());
      const a = await RelayGateway.start('gw-origin', t.dir, cloud.brokerPort, () => peers, { relayAfterMs: 0 });
      stops.push(() => a.stop());
      a.gate.cut();
      await waitFor(() => a.uplink.stats().state !== 'online' && b.uplink.stats().state === 'online', 'origin cut, relay online');
      await fill(a, N);
      peers = [b.asPeer()];
      const relayRate = await drainRate(a, N);
      rows.push({ name: `relayed drain through a peer (window 4 x 2000), ${N} readings`, value: Math.round(relayRate), unit: 'readings/s', anchor: `${((relayRate / directRate) * 100).toFixed(0)}% of direct` });
      const served = b.relay.status().serving!;
      rows.push({ name: 'relay: batches forwarded / acks returned', value: served.batchesForwarded, unit: `/ ${served.acksReturned}` });
    }

    // ── 2 + 3. replication lag under full ingest, CPU and disk of k = 1 ─────────────────────
    const ingest = async (id: string, replicate: boolean, uplinkUp = false) => {
      let peers: RelayPeer[] = [];
      const buddy = replicate ? await RelayGateway.start(`${id}-buddy`, t.dir, cloud.brokerPort, () => [], { replication: { k: 0 } }) : null;
      if (buddy) stops.push(() => buddy.stop());
      const origin = await RelayGateway.start(id, t.dir, cloud.brokerPort, () => peers, { relayAfterMs: 3_600_000, ...(replicate ? { replication: { k: 1 } } : {}) });
      stops.push(() => origin.stop());
      if (uplinkUp) await waitFor(() => origin.uplink.stats().state === 'online', 'origin online');
      else {
        origin.gate.cut();
        await waitFor(() => origin.uplink.stats().state !== 'online', 'cut');
      }
      if (buddy) {
        peers = [buddy.asPeer()];
        await waitFor(() => (origin.relay.status().replication?.buddies ?? []).some((x) => x.connected), 'buddy connected');
      }
      const lagMs: number[] = [];
      const lagReadings: number[] = [];
      const sampler = replicate
        ? setInterval(() => {
            const r = origin.relay.status().replication!;
            lagMs.push(r.lagMs);
            lagReadings.push(r.lagReadings);
          }, 50)
        : null;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await fill(origin, N);
      const ingestS = (performance.now() - t0) / 1000;
      if (uplinkUp) await waitFor(() => origin.log.ackWatermark() === N, 'delivered', 600_000);
      if (replicate) await waitFor(() => origin.relay.status().replication!.replicatedSeq === N, 'replicated', 600_000);
      const totalS = (performance.now() - t0) / 1000;
      if (sampler) clearInterval(sampler);
      const cpu = process.cpuUsage(cpu0);
      const cpuS = (cpu.user + cpu.system) / 1e6;
      const disk = fileBytes(join(t.dir, `${id}.db`), join(t.dir, `${id}.db-wal`));
      const replicaDisk = buddy ? fileBytes(join(t.dir, `${id}-buddy.replicas.db`), join(t.dir, `${id}-buddy.replicas.db-wal`)) : 0;
      const copied = origin.relay.status().replication?.batchesSent ?? 0;
      return { ingestS, totalS, cpuS, disk, replicaDisk, lagMs, lagReadings, copied };
    };
    const base = await ingest('gw-plain', false);
    const rep = await ingest('gw-replicated', true);
    const baseUp = await ingest('gw-plain-up', false, true);
    const repUp = await ingest('gw-replicated-up', true, true);
    const pct = (xs: number[], p: number) => {
      const s = [...xs].sort((x, y) => x - y);
      return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : 0;
    };
    rows.push({ name: `ingest (log append, chunks of ${CHUNK}) without replication`, value: Math.round(N / base.ingestS), unit: 'readings/s' });
    rows.push({ name: 'ingest with k=1 replication running', value: Math.round(N / rep.ingestS), unit: 'readings/s' });
    rows.push({ name: 'replication lag under full ingest, p50 / max', value: pct(rep.lagMs, 50), unit: `ms / ${pct(rep.lagMs, 100)} ms` });
    rows.push({ name: 'replication lag under full ingest, p50 / max', value: pct(rep.lagReadings, 50), unit: `readings / ${pct(rep.lagReadings, 100)}` });
    rows.push({ name: 'time until all replicated after ingest ended', value: Math.round((rep.totalS - rep.ingestS) * 1000), unit: 'ms' });
    const extraCpu = (rep.cpuS - base.cpuS) / base.cpuS;
    rows.push({ name: 'uplink cut: extra CPU of k=1 replication (origin + buddy) vs log append alone', value: Math.round(extraCpu * 100), unit: '%', target: '< 30', met: extraCpu < 0.3, anchor: `${base.cpuS.toFixed(2)} s -> ${rep.cpuS.toFixed(2)} s CPU for ${N}` });
    rows.push({
      name: 'CPU per reading: log append alone / k=1 replication extra',
      value: Number(((base.cpuS / N) * 1e6).toFixed(2)),
      unit: `us / ${(((rep.cpuS - base.cpuS) / N) * 1e6).toFixed(2)} us`,
      anchor: 'the denominator is the raw SQLite append, the cheapest part of ingest (no MQTT, SenML, checks)',
    });
    const extraUp = (repUp.cpuS - baseUp.cpuS) / baseUp.cpuS;
    rows.push({
      name: 'uplink working: extra CPU of k=1 (200 ms linger) vs ingest + direct delivery',
      value: Math.round(extraUp * 100),
      unit: '%',
      target: '< 30',
      met: extraUp < 0.3,
      anchor: `${baseUp.cpuS.toFixed(2)} s -> ${repUp.cpuS.toFixed(2)} s CPU; ${repUp.copied} batches copied`,
    });
    const extraDisk = rep.replicaDisk / rep.disk;
    rows.push({ name: 'extra disk of k=1 (buddy replicas.db vs origin log)', value: Math.round(extraDisk * 100), unit: '%', target: '< 30', met: extraDisk < 0.3, anchor: `${rep.replicaDisk} B vs ${rep.disk} B` });
  } finally {
    for (const s of stops.reverse()) await s().catch(() => {});
    await cloud.stop();
    t.cleanup();
  }
  return rows;
}
