import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RelayPeer } from '#gateway/relay/relay-peers';
import { labConfig, startCloud, tempDir, waitFor } from '../../cloud-bridge/cloud-fixture.js';
import { RelayGateway } from './relay-fixture.js';

/** Origin and buddy in this process over real loopback TCP, real SQLite; the origin's uplink cut. */
describe('replicator and replica keeper (origin → buddy)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function pair() {
    const t = tempDir('fm-replicator-');
    cleanups.push(t.cleanup);
    const cloud = await startCloud(labConfig(join(t.dir, 'cloud')));
    cleanups.push(() => cloud.stop());
    let peers: RelayPeer[] = [];
    const buddy = await RelayGateway.start('gw-buddy', t.dir, cloud.brokerPort, () => [], { replication: { k: 0 } });
    cleanups.push(() => buddy.stop());
    const origin = await RelayGateway.start('gw-origin', t.dir, cloud.brokerPort, () => peers, { relayAfterMs: 3_600_000, replication: { k: 1 } });
    cleanups.push(() => origin.stop());
    origin.gate.cut();
    await waitFor(() => origin.uplink.stats().state !== 'online', 'origin cut');
    peers = [buddy.asPeer()];
    await waitFor(() => (origin.relay.status().replication?.buddies ?? []).some((b) => b.connected), 'buddy connected', 60_000);
    return { origin, buddy };
  }

  it('splits a batch of large readings until each replicated batch is under 1 MiB; all arrive', async () => {
    const { origin, buddy } = await pair();
    // 48 readings of 60 kB random hex: about 2.9 MB, still over 1 MiB after deflate.
    const rs = Array.from({ length: 48 }, (_, i) => ({ series: 'cam1/blob', ts: Date.now() + i, value: randomBytes(30_000).toString('hex') }));
    const { firstSeq, lastSeq } = origin.log.append(rs);
    origin.relay.notify({ firstSeq, lastSeq, readings: rs });
    await waitFor(() => origin.relay.status().replication!.replicatedSeq === lastSeq, 'replicated', 60_000);
    const sent = origin.relay.status().replication!;
    // More than 1 MiB in all (after deflate), so it could not go as one batch.
    expect(sent.bytesSent).toBeGreaterThan(1024 * 1024);
    expect(sent.batchesSent).toBeGreaterThanOrEqual(2);
    expect(sent.bytesSent / sent.batchesSent).toBeLessThan(1024 * 1024);
    const held = buddy.relay.status().replicas!.origins.find((o) => o.origin === 'gw-origin')!;
    expect(held.storedSeq).toBe(lastSeq);
    expect(held.batches).toBe(sent.batchesSent);
  });

  it('streams a burst of commits as few large batches, grouped into few buddy transactions', async () => {
    const { origin, buddy } = await pair();
    for (let i = 0; i < 40; i++) origin.append(500);
    await waitFor(() => origin.relay.status().replication!.replicatedSeq === 20_000, 'replicated', 60_000);
    const sent = origin.relay.status().replication!.batchesSent;
    // 20,000 readings in batches of up to 8000: a handful, not one per 500-reading commit.
    expect(sent).toBeLessThanOrEqual(10);
    const held = buddy.relay.status().replicas!;
    expect(held.batchesStored).toBe(sent);
    expect(held.origins.find((o) => o.origin === 'gw-origin')!.storedSeq).toBe(20_000);
  });
});
