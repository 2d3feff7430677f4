import { afterEach, describe, expect, it } from 'vitest';
import type { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { labConfig, startCloud, tempDir, waitFor } from '../cloud-bridge/cloud-fixture.js';
import { RelayGateway } from '../gateway/relay/relay-fixture.js';

/**
 * Relay: three gateways (real SQLite logs, real MQTT uplinks to a real cloud bridge on
 * loopback, real relay TCP channels sealed with the cluster key). A's uplink is cut for real
 * (a TCP gate in front of the cloud resets and refuses its connections).
 */
describe('relay through a connected peer', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  async function cluster(over: { batchReadings?: number } = {}) {
    const t = tempDir('fm-relay-');
    cleanups.push(t.cleanup);
    const cloud: CloudBridge = await startCloud(labConfig(t.dir));
    cleanups.push(() => cloud.stop());
    const gws: RelayGateway[] = [];
    const peersOf = (self: string) => () => gws.filter((g) => g.id !== self).map((g) => g.asPeer());
    for (const id of ['gw-a', 'gw-b', 'gw-c']) {
      const gw = await RelayGateway.start(id, t.dir, cloud.brokerPort, peersOf(id), over);
      gws.push(gw);
      cleanups.push(() => gw.stop());
    }
    await waitFor(() => gws.every((g) => g.uplink.stats().state === 'online'), 'three uplinks online');
    return { cloud, a: gws[0]!, b: gws[1]!, c: gws[2]! };
  }

  /** Every seq 1..n of the gateway exactly once in the cloud, carrying the value it was logged with. */
  async function expectExactlyOnce(cloud: CloudBridge, gateway: string, n: number): Promise<void> {
    const rows = await cloud.store.readings({ gateway, limit: n + 1000 });
    expect(rows.length).toBe(n);
    const seqs = rows.map((r) => r.seq).sort((x, y) => x - y);
    expect(new Set(seqs).size).toBe(n);
    expect(seqs[0]).toBe(1);
    expect(seqs.at(-1)).toBe(n);
    for (const r of rows) expect(r.value).toBe(r.seq);
  }

  const cloudCount = async (cloud: CloudBridge, gateway: string) => (await cloud.store.readings({ gateway, limit: 1_000_000 })).length;

  async function gatewayList(cloud: CloudBridge): Promise<Array<{ id: string; via: string | null }>> {
    const res = await fetch(`http://127.0.0.1:${cloud.httpPort}/api/gateways`, { headers: { authorization: `Bearer ${cloud.live.issuedToken}` } });
    return ((await res.json()) as { gateways: Array<{ id: string; via: string | null }> }).gateways;
  }

  it("delivers A's readings through B within seconds while A's uplink is cut, then A carries on directly: no gap, no duplicate", async () => {
    const { cloud, a, b } = await cluster();
    a.append(100);
    await waitFor(async () => (await cloudCount(cloud, 'gw-a')) === 100, 'direct delivery before the cut');

    a.gate.cut();
    await waitFor(() => a.uplink.stats().state !== 'online', "A's uplink to notice the cut");
    for (let i = 0; i < 5; i++) a.append(100);
    // B's own data keeps flowing on its own session while it carries A's.
    b.append(400);
    const cutAt = Date.now();
    await waitFor(async () => (await cloudCount(cloud, 'gw-a')) === 600, "A's readings through the relay", 30_000);
    const relayedInMs = Date.now() - cutAt;
    // "Within seconds": 0.3 s grace before relaying, one connection, a few batches.
    expect(relayedInMs).toBeLessThan(15_000);
    // The cloud commits before it acks: the watermark follows once the ack came back through B.
    await waitFor(() => a.log.ackWatermark() === 600, "A's watermark moved by the relayed acks");
    const route = a.relay.status().route;
    expect(route.via).toBe('gw-b'); // least backlog, ties by id
    expect(route.readingsAcked).toBeGreaterThanOrEqual(500);
    expect((await gatewayList(cloud)).find((g) => g.id === 'gw-a')?.via).toBe('gw-b');
    expect(cloud.receiver.stats.batchesRelayed).toBeGreaterThan(0);
    await waitFor(async () => (await cloudCount(cloud, 'gw-b')) === 400 && b.log.ackWatermark() === 400, "B's own readings delivered meanwhile");

    a.gate.open();
    await waitFor(() => a.uplink.stats().state === 'online', "A's uplink back", 30_000);
    a.append(300);
    await waitFor(async () => (await cloudCount(cloud, 'gw-a')) === 900 && a.log.ackWatermark() === 900, 'direct delivery after the outage', 30_000);
    await waitFor(() => a.relay.status().route.state === 'direct', 'route back to direct');
    await expectExactlyOnce(cloud, 'gw-a', 900);
    expect((await gatewayList(cloud)).find((g) => g.id === 'gw-a')?.via).toBeNull();
  }, 120_000);

  it('a relay that dies mid-stream: the origin fails over to another peer, nothing lost, nothing doubled', async () => {
    const { cloud, a, b } = await cluster({ batchReadings: 50 });
    a.gate.cut();
    await waitFor(() => a.uplink.stats().state !== 'online', "A's uplink to notice the cut");
    const total = 20_000;
    for (let i = 0; i < total / 1000; i++) a.append(1000);
    await waitFor(async () => (await cloudCount(cloud, 'gw-a')) > 0, 'relayed delivery to start', 30_000);
    expect(a.relay.status().route.via).toBe('gw-b');
    // B's relay dies: sockets reset, its cloud session gone, acks in flight lost. Gossip still
    // says B is up for a while (as it would), so A must survive a refused reconnect too.
    await b.relay.stop();
    const atDeath = await cloudCount(cloud, 'gw-a');
    await waitFor(async () => (await cloudCount(cloud, 'gw-a')) === total && a.log.ackWatermark() === total, 'all readings through gw-c', 60_000);
    expect(atDeath).toBeLessThan(total); // it really died mid-stream
    const route = a.relay.status().route;
    expect(route.via).toBe('gw-c');
    expect(route.failovers).toBeGreaterThanOrEqual(1);
    await expectExactlyOnce(cloud, 'gw-a', total);
  }, 120_000);
});
