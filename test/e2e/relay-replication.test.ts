import { spawn } from 'node:child_process';
import { rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudBridge } from '#cloud-bridge/cloud-bridge';
import type { RelayPeer } from '#gateway/relay/relay-peers';
import { labConfig, startCloud, tempDir, waitFor } from '../cloud-bridge/cloud-fixture.js';
import { RelayGateway } from '../gateway/relay/relay-fixture.js';
import { CHILD, ChildGateway } from '../gateway/relay/child-gateway.js';

describe('backlog replication to a buddy', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it('A replicates, is SIGKILLed and its data directory deleted: every reading up to the last replication point reaches the cloud through the buddy, exactly once', async () => {
    const t = tempDir('fm-replica-');
    cleanups.push(t.cleanup);
    const cloud: CloudBridge = await startCloud(labConfig(join(t.dir, 'cloud')));
    cleanups.push(() => cloud.stop());
    let aPeer: RelayPeer | null = null;
    const gws: RelayGateway[] = [];
    const peersOf = (self: string) => () => [...gws.filter((g) => g.id !== self).map((g) => g.asPeer()), ...(aPeer ? [aPeer] : [])];
    for (const id of ['gw-b', 'gw-c']) {
      const gw = await RelayGateway.start(id, t.dir, cloud.brokerPort, peersOf(id), { replication: { deadAfterMs: 1000 } });
      gws.push(gw);
      cleanups.push(() => gw.stop());
    }
    await waitFor(() => gws.every((g) => g.uplink.stats().state === 'online'), 'B and C online');

    const aDir = join(t.dir, 'gw-a');
    mkdirSync(aDir);
    const bcPeers = gws.map((g) => g.asPeer());
    // Relaying is off for A here (after an hour): this test is about the replica alone.
    const opts = { batchReadings: 500, relayAfterMs: 3_600_000, replication: { k: 1 } };
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, 'gw-a', aDir, String(cloud.brokerPort), JSON.stringify(bcPeers), JSON.stringify(opts)], { stdio: ['pipe', 'pipe', 'inherit'] });
    cleanups.push(() => void (proc.exitCode === null && proc.kill('SIGKILL')));
    const a = new ChildGateway(proc);
    const ready = await a.next('ready');
    aPeer = { id: 'gw-a', host: '127.0.0.1', port: Number(ready.ready), uplink: 'down', backlog: 0 };

    for (let i = 0; i < 8; i++) await a.ask('append 1000', 'appended');
    let status: Record<string, unknown> = {};
    await waitFor(async () => {
      status = await a.ask('status', 'replicatedSeq');
      return status.replicatedSeq === 8000;
    }, 'A fully replicated', 60_000);
    const buddy = (status.buddies as Array<{ id: string }>)[0]!.id;
    expect(['gw-b', 'gw-c']).toContain(buddy);
    // Readings after the last replication point: not promised, and may be lost with A.
    await a.ask('append 500', 'appended');
    const last = await a.ask('status', 'replicatedSeq');
    const replicatedAtKill = Number(last.replicatedSeq);
    expect(replicatedAtKill).toBeGreaterThanOrEqual(8000);

    proc.kill('SIGKILL');
    await new Promise<void>((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', () => r())));
    rmSync(aDir, { recursive: true, force: true });
    aPeer = null; // gossip declares it dead

    await waitFor(async () => (await cloud.store.readings({ gateway: 'gw-a', limit: 100_000 })).length >= replicatedAtKill, "A's replica uploaded by the buddy", 60_000);
    const keeper = gws.find((g) => g.id === buddy)!.relay.status().replicas!;
    expect(keeper.batchesUploadAcked).toBeGreaterThan(0);
    await waitFor(() => gws.find((g) => g.id === buddy)!.relay.status().replicas!.origins.every((o) => o.batches === 0), 'replica trimmed after the cloud acks');
    const rows = await cloud.store.readings({ gateway: 'gw-a', limit: 100_000 });
    const seqs = rows.map((r) => r.seq).sort((x, y) => x - y);
    expect(new Set(seqs).size).toBe(rows.length);
    for (let s = 1; s <= replicatedAtKill; s++) expect(seqs[s - 1]).toBe(s);
    for (const r of rows) expect(r.value).toBe(r.seq);
    expect(seqs.at(-1)).toBeLessThanOrEqual(8500);
  }, 120_000);
});
