import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetTopics, generateReleaseKey, parseDesired, type DesiredState } from '@fieldmesh/protocol';
import { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { connectGateway, labConfig, tempDir, waitFor } from '../cloud-fixture.js';
import { signedRelease, subscribe } from './fleet-fixture.js';

/**
 * A lab bridge (`broker.auth: none`, no fleet.releaseKeys): gateways log in by client id, so
 * any valid gateway id opens a bundle download, as it opens the broker; envelopes are checked
 * for shape only. Desired state still goes only to its own gateway.
 */
describe('fleet on a lab bridge (auth: none)', () => {
  const t = tempDir('fm-fleet-lab-');
  let bridge: CloudBridge;
  let admin: string;
  const key = generateReleaseKey();
  const bundle = Buffer.from('lab bundle');
  const base = () => `http://127.0.0.1:${bridge.httpPort}`;

  beforeAll(async () => {
    bridge = await CloudBridge.start(labConfig(t.dir));
    admin = bridge.fleet.parts!.adminTokens.issue('lab', Date.now());
  });
  afterAll(async () => {
    await bridge.stop();
    t.cleanup();
  });

  it('uploads, sets desired for one gateway, and that gateway downloads with Basic by its id', async () => {
    const auth = { authorization: `Bearer ${admin}` };
    expect((await fetch(`${base()}/api/fleet/releases/0.9.0/bundle`, { method: 'PUT', headers: auth, body: bundle })).status).toBe(201);
    expect((await fetch(`${base()}/api/fleet/releases/0.9.0`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(signedRelease(key, '0.9.0', bundle)) })).status).toBe(201);
    const gwA = await connectGateway(bridge.brokerPort, 'lab-a');
    const gwB = await connectGateway(bridge.brokerPort, 'lab-b');
    const got: Record<string, DesiredState[]> = { 'lab-a': [], 'lab-b': [] };
    for (const [id, c] of [['lab-a', gwA], ['lab-b', gwB]] as const) {
      c.on('message', (topic, payload) => {
        const d = parseDesired(payload);
        if (d.ok) got[id]!.push(d.value);
      });
      expect(await subscribe(c, fleetTopics.desired(id))).toBe(1);
    }
    expect(await subscribe(gwB, fleetTopics.desired('lab-a'))).toBe(128);
    const set = await fetch(`${base()}/api/fleet/desired`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ target: { gateway: 'lab-a' }, version: '0.9.0' }) });
    expect(set.status).toBe(200);
    await waitFor(() => got['lab-a']!.length === 1, 'lab-a desired');
    const d = got['lab-a']![0]!;
    expect(d).toMatchObject({ gateway: 'lab-a', serial: 1, bundlePath: '/api/fleet/releases/0.9.0/bundle' });
    const dl = await fetch(base() + d.bundlePath!, { headers: { authorization: `Basic ${Buffer.from('lab-a:anything').toString('base64')}` } });
    expect(dl.status).toBe(200);
    expect(Buffer.from(await dl.arrayBuffer()).equals(bundle)).toBe(true);
    expect((await fetch(base() + d.bundlePath!, { headers: { authorization: `Basic ${Buffer.from('bad/id:x').toString('base64')}` } })).status).toBe(401);
    expect(got['lab-b']).toEqual([]);
    gwA.end(true);
    gwB.end(true);
  });
});
