import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDesired, encodeReported, fleetTopics, parseDesired, signArtifact, type DesiredState } from '@fieldmesh/protocol';
import { gatewayClient, report, signedRelease, startFleetCloud, subscribe, waitFor, type FleetCloud } from './fleet-fixture.js';

/**
 * The fleet topics on the real cloud broker with real credentials: who may subscribe and
 * publish what, the effective desired state each gateway gets (own entry, group, all), serials,
 * re-publication on a change of tags and after a restart of the broker's retained store.
 */
describe('fleet desired/reported over the cloud broker', () => {
  let cloud: FleetCloud;
  const clients: MqttClient[] = [];
  const bundle = Buffer.from('bundle bytes');

  beforeAll(async () => {
    cloud = await startFleetCloud(['gw-a', 'gw-b', 'gw-c']);
    const store = cloud.bridge.fleet.store;
    for (const v of ['1.1.0', '1.2.0', '1.3.0']) store.putRelease({ version: v, envelope: signedRelease(cloud.key, v, bundle), addedAt: 1 });
    store.putConfig({ revision: 7, envelope: signArtifact({ kind: 'config', revision: 7, sections: { rules: [] }, createdAt: '2026-12-01T00:00:00.000Z' }, cloud.key), addedAt: 1 });
  });

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await cloud.stop();
  });

  async function client(id: string): Promise<MqttClient> {
    const c = await gatewayClient(cloud.bridge.brokerPort, id, cloud.passwords[id]!);
    clients.push(c);
    return c;
  }

  /** Desired messages as they arrive on `c` for gateway `id`. */
  function desiredOf(c: MqttClient, id: string): DesiredState[] {
    const got: DesiredState[] = [];
    c.on('message', (topic, payload) => {
      if (topic !== fleetTopics.desired(id)) return;
      const d = parseDesired(payload);
      if (d.ok) got.push(d.value);
    });
    return got;
  }

  const access = () => cloud.bridge.access.stats;

  it('a gateway subscribes to its own desired only, and never to a wildcard over them', async () => {
    const a = await client('gw-a');
    expect(await subscribe(a, fleetTopics.desired('gw-a'))).toBe(1);
    const denied = access().subscribeDenied;
    for (const t of [fleetTopics.desired('gw-b'), 'fm/g/+/fleet/desired', 'fm/g/gw-a/fleet/#', fleetTopics.reported('gw-b'), fleetTopics.reported('gw-a'), '#']) {
      expect(await subscribe(a, t), t).toBe(128);
    }
    expect(access().subscribeDenied).toBe(denied + 6);
  });

  it('nobody publishes a desired topic, nor another gateway\'s reported; a report naming another gateway is refused', async () => {
    const watcher = await client('gw-c');
    const seen = desiredOf(watcher, 'gw-c');
    expect(await subscribe(watcher, fleetTopics.desired('gw-c'))).toBe(1);
    const before = access().publishDenied;
    const forged = encodeDesired({ format: 1, gateway: 'gw-c', serial: 999, release: signedRelease(cloud.key, '1.3.0', bundle), bundlePath: '/api/fleet/releases/1.3.0/bundle' });
    // aedes closes a connection whose publish was refused: one connection per attempt.
    const attempts: Array<[string, Buffer]> = [
      [fleetTopics.desired('gw-c'), forged],
      [fleetTopics.desired('gw-b'), forged],
      [fleetTopics.reported('gw-a'), encodeReported(report('gw-a', { tags: ['evil'] }))],
    ];
    for (const [topic, payload] of attempts) {
      const evil = await client('gw-b');
      const closed = new Promise<void>((r) => evil.once('close', () => r()));
      evil.publish(topic, payload, { qos: 1, retain: true });
      await closed;
    }
    await waitFor(() => access().publishDenied >= before + 3, 'three refused publishes');
    const b = await client('gw-b');
    expect(cloud.bridge.fleet.store.gateway('gw-a')?.reported ?? null).toBeNull();
    // gw-b's own topic, naming gw-a inside: not stored anywhere.
    const refused = cloud.bridge.fleet.intake.stats.refused;
    b.publish(fleetTopics.reported('gw-b'), encodeReported(report('gw-a')), { qos: 1 });
    b.publish(fleetTopics.reported('gw-b'), Buffer.from('{"format":1,'), { qos: 1 });
    b.publish(fleetTopics.reported('gw-b'), Buffer.alloc(20_000, 0x20), { qos: 1 });
    await waitFor(() => cloud.bridge.fleet.intake.stats.refused >= refused + 3, 'three refused reports');
    expect(cloud.bridge.fleet.store.gateway('gw-a')?.reported ?? null).toBeNull();
    expect(cloud.bridge.fleet.store.gateway('gw-b')?.reported ?? null).toBeNull();
    expect(seen.filter((d) => d.serial === 999)).toEqual([]);
  });

  it('a flood of reports from one gateway is throttled (at most 20 stored a second, the newest kept for the end of the second), repeats are not stored again', async () => {
    const b = await client('gw-b');
    const stats = cloud.bridge.fleet.intake.stats;
    const before = { ...stats };
    const one = encodeReported(report('gw-b', { at: '2026-12-01T00:00:00.000Z' }));
    for (let i = 0; i < 5; i++) b.publish(fleetTopics.reported('gw-b'), one, { qos: 0 });
    for (let i = 0; i < 300; i++) b.publish(fleetTopics.reported('gw-b'), encodeReported(report('gw-b', { at: new Date(Date.UTC(2026, 11, 1, 0, 0, 0, i + 1)).toISOString() })), { qos: 0 });
    await waitFor(() => stats.accepted + stats.repeats + stats.throttled - before.accepted - before.repeats - before.throttled >= 305, 'all 305 reports taken in');
    expect(stats.repeats - before.repeats).toBe(4);
    expect(stats.throttled - before.throttled).toBeGreaterThan(200);
    expect(stats.accepted - before.accepted).toBeLessThan(100);
    // The newest report of the flood is not lost: it is taken once the second is over.
    const newest = new Date(Date.UTC(2026, 11, 1, 0, 0, 0, 300)).toISOString();
    await waitFor(() => cloud.bridge.fleet.store.gateway('gw-b')!.reported!.at === newest, 'the newest flooded report stored', 5000);
  });

  it('effective desired: own entry, else newest group among the reported tags, else all; serial + 1 on each change only', async () => {
    const fleet = cloud.bridge.fleet;
    const c = await client('gw-c');
    const got = desiredOf(c, 'gw-c');
    expect(await subscribe(c, fleetTopics.desired('gw-c'))).toBe(1);
    c.publish(fleetTopics.reported('gw-c'), encodeReported(report('gw-c', { tags: ['north', 'pumps'] })), { qos: 1, retain: true });
    await waitFor(() => fleet.store.gateway('gw-c')?.reported, 'gw-c reported');

    await fleet.setDesired({ all: true }, { version: '1.1.0' }, 'test');
    await waitFor(() => got.at(-1)?.release?.body.version === '1.1.0', 'all entry');
    const s1 = got.at(-1)!.serial;
    expect(got.at(-1)).toMatchObject({ format: 1, gateway: 'gw-c', bundlePath: '/api/fleet/releases/1.1.0/bundle' });

    await fleet.setDesired({ group: 'south' }, { version: '1.3.0' }, 'test');
    await fleet.setDesired({ group: 'north' }, { version: '1.2.0', configRevision: 7 }, 'test');
    await waitFor(() => got.at(-1)?.release?.body.version === '1.2.0', 'north entry');
    expect(got.at(-1)!.serial).toBe(s1 + 1);
    expect(got.at(-1)!.config?.body.revision).toBe(7);
    // A newer group entry of another of its tags wins.
    await fleet.setDesired({ group: 'pumps' }, { version: '1.3.0' }, 'test');
    await waitFor(() => got.at(-1)?.release?.body.version === '1.3.0', 'pumps entry');
    expect(got.at(-1)!.serial).toBe(s1 + 2);
    // Its own entry beats every group; the same entry again publishes nothing new.
    await fleet.setDesired({ gateway: 'gw-c' }, { version: '1.1.0' }, 'test');
    await waitFor(() => got.at(-1)?.serial === s1 + 3, 'own entry');
    expect(got.at(-1)!.release?.body.version).toBe('1.1.0');
    expect((await fleet.setDesired({ gateway: 'gw-c' }, { version: '1.1.0' }, 'test')).changed).toEqual([]);
    expect(fleet.store.gateway('gw-c')!.serial).toBe(s1 + 3);
  });

  it('a change of tags re-publishes; a restarted bridge puts the same retained message back under the same serial', async () => {
    const fleet = cloud.bridge.fleet;
    const a = await client('gw-a');
    const got = desiredOf(a, 'gw-a');
    expect(await subscribe(a, fleetTopics.desired('gw-a'))).toBe(1);
    a.publish(fleetTopics.reported('gw-a'), encodeReported(report('gw-a', { tags: [] })), { qos: 1, retain: true });
    await waitFor(() => got.at(-1)?.release?.body.version === '1.1.0', 'gw-a gets the all entry');
    a.publish(fleetTopics.reported('gw-a'), encodeReported(report('gw-a', { tags: ['south'] })), { qos: 1, retain: true });
    await waitFor(() => got.at(-1)?.release?.body.version === '1.3.0', 'gw-a gets the south entry after its tags changed');
    const last = got.at(-1)!;
    const history = fleet.store.history({ gateway: 'gw-a', limit: 10 });
    expect(history.filter((e) => e.kind === 'desired').map((e) => e.detail.version)).toEqual(['1.3.0', '1.1.0']);

    const { CloudBridge } = await import('#cloud-bridge/cloud-bridge');
    for (const c of clients) c.end(true);
    clients.length = 0;
    await cloud.bridge.stop();
    cloud.bridge = await CloudBridge.start(cloud.config);
    const again = await client('gw-a');
    const after = desiredOf(again, 'gw-a');
    expect(await subscribe(again, fleetTopics.desired('gw-a'))).toBe(1);
    await waitFor(() => after.length > 0, 'retained desired after restart');
    expect(after[0]).toEqual(last);
  });
});
