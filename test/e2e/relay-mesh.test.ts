import { connect as mqttConnect } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { Gateway } from '#gateway/gateway';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { freePort, labConfig, startCloud, tempDir, waitFor } from '../cloud-bridge/cloud-fixture.js';
import { CLUSTER_KEY } from '../gateway/relay/relay-fixture.js';

/**
 * The whole path with nothing stood in: two gateways form a real mesh over UDP on loopback, B's
 * gossiped metadata says its uplink is up and where its relay listens, and A (uplink refused)
 * delivers a device's readings through B. Metadata is re-read every 10 s, so this waits a while.
 */
describe('relay found through the real mesh', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it("A's readings reach the cloud through B, found by gossip", async () => {
    const t = tempDir('fm-relay-mesh-');
    cleanups.push(t.cleanup);
    const cloud = await startCloud(labConfig(t.dir + '/cloud'));
    cleanups.push(() => cloud.stop());
    const gw = (id: string, url: string, seeds: string[]) =>
      new Gateway(
        parseGatewayConfig({
          id,
          dataDir: `${t.dir}/${id}`,
          broker: { port: 0, host: '127.0.0.1', auth: 'none' },
          http: { port: 0, host: '127.0.0.1' },
          mesh: { key: CLUSTER_KEY, mdns: false, port: 0, bind: '127.0.0.1', seeds, preset: 'local' },
          relay: { host: '127.0.0.1', afterMs: 500 },
          uplink: { url },
        }),
      );
    const b = gw('gw-b', `mqtt://127.0.0.1:${cloud.brokerPort}`, []);
    await b.start();
    cleanups.push(() => b.stop());
    const a = gw('gw-a', `mqtt://127.0.0.1:${await freePort()}`, [b.mesh!.address]);
    const started = await a.start();
    cleanups.push(() => a.stop());

    const device = mqttConnect(`mqtt://127.0.0.1:${started.brokerPort}`, { clientId: 'dev1', protocolVersion: 4 });
    cleanups.push(() => void device.end(true));
    await new Promise<void>((r) => device.once('connect', () => r()));
    for (let i = 1; i <= 20; i++) await device.publishAsync('fm/d/dev1/temp', String(i), { qos: 1 });

    await waitFor(async () => (await cloud.store.readings({ gateway: 'gw-a', limit: 100 })).length === 20, "A's readings through B (after B's metadata says uplink up)", 60_000);
    await waitFor(() => (a.status() as { log: { ackWatermark: number } }).log.ackWatermark === 20, "A's watermark");
    expect((a.status() as { relay: { route: { via: string | null } } }).relay.route.via).toBe('gw-b');
    const members = a.mesh!.members().find((m) => m.id === 'gw-b')!;
    expect(members.meta?.uplink).toBe('up');
    expect(Number(members.meta?.tags.relay)).toBeGreaterThan(0);
  }, 90_000);
});
