import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudBridge } from '#cloud-bridge/cloud-bridge';
import type { RelayPeer } from '#gateway/relay/relay-peers';
import { labConfig, startCloud, tempDir, waitFor } from '../cloud-bridge/cloud-fixture.js';
import { CHILD, ChildGateway } from '../gateway/relay/child-gateway.js';
import { RelayGateway } from '../gateway/relay/relay-fixture.js';

/**
 * A relay that dies mid-stream, with a real SIGKILL: the relay B is its own process
 * (SQLite log, MQTT sessions, relay TCP server), killed while it carries A's backlog; A fails
 * over to C. The cloud ends with every reading of A exactly once.
 */
describe('relay killed mid-stream (SIGKILL)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it('nothing lost, nothing doubled', async () => {
    const t = tempDir('fm-relay-kill-');
    cleanups.push(t.cleanup);
    const cloud: CloudBridge = await startCloud(labConfig(join(t.dir, 'cloud')));
    cleanups.push(() => cloud.stop());

    const bDir = join(t.dir, 'gw-b');
    mkdirSync(bDir);
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, 'gw-b', bDir, String(cloud.brokerPort), '[]', JSON.stringify({ uplinkUp: true })], { stdio: ['pipe', 'pipe', 'inherit'] });
    cleanups.push(() => void (proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL')));
    const b = new ChildGateway(proc);
    const ready = await b.next('ready');
    await waitFor(async () => (await b.ask('status', 'uplink')).uplink === 'online', "B's uplink online");
    // Gossip keeps saying B is up for a while after it dies, as a real mesh would.
    const bPeer: RelayPeer = { id: 'gw-b', host: '127.0.0.1', port: Number(ready.ready), uplink: 'up', backlog: 0 };

    const gws: RelayGateway[] = [];
    const c = await RelayGateway.start('gw-c', t.dir, cloud.brokerPort, () => []);
    gws.push(c);
    cleanups.push(() => c.stop());
    const a = await RelayGateway.start('gw-a', t.dir, cloud.brokerPort, () => [bPeer, { ...c.asPeer(), backlog: 0 }], { batchReadings: 50 });
    cleanups.push(() => a.stop());
    await waitFor(() => c.uplink.stats().state === 'online', "C's uplink online");
    a.gate.cut();
    await waitFor(() => a.uplink.stats().state !== 'online', "A's uplink cut");

    const total = 20_000;
    for (let i = 0; i < total / 1000; i++) a.append(1000);
    await waitFor(async () => (await cloud.store.readings({ gateway: 'gw-a', limit: 1_000_000 })).length > 0, 'relaying through B', 30_000);
    expect(a.relay.status().route.via).toBe('gw-b');
    proc.kill('SIGKILL');
    const atKill = (await cloud.store.readings({ gateway: 'gw-a', limit: 1_000_000 })).length;

    await waitFor(async () => a.log.ackWatermark() === total && (await cloud.store.readings({ gateway: 'gw-a', limit: 1_000_000 })).length === total, 'all of A through C', 60_000);
    expect(atKill).toBeLessThan(total);
    const route = a.relay.status().route;
    expect(route.via).toBe('gw-c');
    expect(route.failovers).toBeGreaterThanOrEqual(1);
    const rows = await cloud.store.readings({ gateway: 'gw-a', limit: 1_000_000 });
    const seqs = rows.map((r) => r.seq).sort((x, y) => x - y);
    expect(new Set(seqs).size).toBe(total);
    expect(seqs[0]).toBe(1);
    expect(seqs.at(-1)).toBe(total);
    for (const r of rows) expect(r.value).toBe(r.seq);
  }, 120_000);
});
