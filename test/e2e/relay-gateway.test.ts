import { connect as mqttConnect } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { Gateway } from '#gateway/gateway';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import type { MemberView } from '#gateway/mesh/mesh';
import { emptyMeta } from '#gateway/mesh/meta';
import { freePort, labConfig, startCloud, tempDir, waitFor } from '../cloud-bridge/cloud-fixture.js';
import { CLUSTER_KEY } from '../gateway/relay/relay-fixture.js';

/**
 * The relay wired into the gateway's composition root: a device publishes to gateway A, whose
 * uplink points at a port that refuses; the readings reach the cloud through gateway B, and both
 * gateways' /api/status show the route. The member list stands in for the mesh's (in production
 * `useMeshForRelay(() => mesh.members())` and `relayMetaTags()` wire the mesh in).
 */
describe('relay through the Gateway composition root', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it("a device's readings at A (uplink refused) reach the cloud through B; status shows via and carrying", async () => {
    const t = tempDir('fm-relay-gw-');
    cleanups.push(t.cleanup);
    const cloud = await startCloud(labConfig(t.dir + '/cloud'));
    cleanups.push(() => cloud.stop());
    const refused = await freePort();
    const gw = (id: string, url: string) =>
      new Gateway(
        parseGatewayConfig({
          id,
          dataDir: `${t.dir}/${id}`,
          broker: { port: 0, host: '127.0.0.1', auth: 'none' },
          http: { port: 0, host: '127.0.0.1' },
          mesh: { key: CLUSTER_KEY, mdns: false, port: 0 },
          relay: { host: '127.0.0.1', afterMs: 200 },
          uplink: { url },
        }),
      );
    const a = gw('gw-a', `mqtt://127.0.0.1:${refused}`);
    const b = gw('gw-b', `mqtt://127.0.0.1:${cloud.brokerPort}`);
    const started = await a.start();
    cleanups.push(() => a.stop());
    await b.start();
    cleanups.push(() => b.stop());
    const bStatus = () => b.status() as { uplink: { state: string }; relay: { serving: { port: number; origins: string[] } } };
    await waitFor(() => bStatus().uplink.state === 'online', "B's uplink online");
    const bRelayPort = Number(b.relayMetaTags().relay);
    expect(bRelayPort).toBe(bStatus().relay.serving.port);
    const bAsMember: MemberView = { id: 'gw-b', address: '127.0.0.1:7946', state: 'alive', incarnation: 1, self: false, meta: { ...emptyMeta, uplink: 'up', tags: b.relayMetaTags() } };
    a.useMeshForRelay(() => [bAsMember]);

    const device = mqttConnect(`mqtt://127.0.0.1:${started.brokerPort}`, { clientId: 'dev1', protocolVersion: 4 });
    cleanups.push(() => void device.end(true));
    await new Promise<void>((r) => device.once('connect', () => r()));
    for (let i = 1; i <= 50; i++) await device.publishAsync('fm/d/dev1/temp', String(i), { qos: 1 });

    await waitFor(async () => (await cloud.store.readings({ gateway: 'gw-a', limit: 1000 })).length === 50, "A's readings in the cloud through B", 30_000);
    const res = await fetch(`http://127.0.0.1:${a.http.port}/api/status`);
    const status = (await res.json()) as { relay: { route: { via: string | null; state: string } }; log: { ackWatermark: number } };
    expect(status.relay.route).toMatchObject({ via: 'gw-b', state: 'relaying' });
    await waitFor(() => (a.status() as { log: { ackWatermark: number } }).log.ackWatermark === 50, "A's watermark");
    expect(bStatus().relay.serving.origins).toEqual(['gw-a']);
    const values = (await cloud.store.readings({ gateway: 'gw-a', limit: 1000 })).map((r) => r.value).sort((x, y) => Number(x) - Number(y));
    expect(values).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const metrics = await (await fetch(`http://127.0.0.1:${a.http.port}/metrics`)).text();
    expect(metrics).toContain('fieldmesh_relay_route_state{state="relaying"} 1');
    expect(metrics).toContain('fieldmesh_relay_route_readings_acked_total 50');
    expect(metrics).toMatch(/fieldmesh_relay_replication_lag_readings \d+/);
    // Everything is acked upstream (through B) or replicated: nothing left at risk.
    await waitFor(() => (a.status() as { relay: { replication: { lagReadings: number } } }).relay.replication.lagReadings === 0, 'replication lag 0');
  }, 60_000);

  it('relay is off without a mesh key, and the config rejects unknown relay keys naming them', async () => {
    expect(() => parseGatewayConfig({ relay: { windw: 3 } })).toThrow(expect.objectContaining({ code: 'FM_ERR_CONFIG_UNKNOWN_KEY', path: 'relay.windw' }));
    expect(() => parseGatewayConfig({ relay: { window: 0 } })).toThrow(expect.objectContaining({ path: 'relay.window' }));
    const t = tempDir('fm-relay-off-');
    cleanups.push(t.cleanup);
    const g = new Gateway(parseGatewayConfig({ id: 'gw-x', dataDir: t.dir, broker: { port: 0, host: '127.0.0.1', auth: 'none' }, http: { port: 0, host: '127.0.0.1' } }));
    await g.start();
    cleanups.push(() => g.stop());
    expect((g.status() as { relay: unknown }).relay).toBeNull();
    expect(g.relayMetaTags()).toEqual({});
  });
});
