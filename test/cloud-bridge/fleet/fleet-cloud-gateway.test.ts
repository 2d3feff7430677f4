import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signArtifact } from '@fieldmesh/protocol';
import { Gateway } from '#gateway/gateway';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { ABI, KEY, MACHINE, buildBundle, releaseBody, tempRoot, type ServedBundle } from '../../gateway/fleet/fleet-fixture.js';
import { layRoot, type FleetRoot } from '../../gateway/fleet/fleet-gateway.js';
import { startFleetCloud, waitFor, type FleetCloud } from './fleet-fixture.js';

/**
 * The cloud and a real gateway's fleet agent together: the gateway logs in with the credential
 * `add-gateway` issued, reports its tags over the cloud broker, gets its desired state from a
 * group entry set over the cloud's HTTP API, and downloads the bundle from the cloud with its
 * uplink credential. A release it cannot run is refused and the refusal lands in the cloud's
 * history; a good one is fetched, unpacked and switched (exit 75 asked).
 */
describe('cloud bridge and a real gateway fleet agent', () => {
  const GW = 'gw-int';
  const dir = tempRoot('fm-fleet-int-');
  let cloud: FleetCloud;
  let admin: string;
  let gw: Gateway;
  let exitCode: number | null = null;
  let root: FleetRoot;

  const api = async (method: string, path: string, body: unknown) => {
    const raw = Buffer.isBuffer(body);
    const r = await fetch(`http://127.0.0.1:${cloud.bridge.httpPort}${path}`, { method, headers: { authorization: `Bearer ${admin}`, ...(raw ? {} : { 'content-type': 'application/json' }) }, body: raw ? body : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, text };
  };

  async function publish(version: string, b: ServedBundle, over: Parameters<typeof releaseBody>[2] = {}) {
    expect((await api('PUT', `/api/fleet/releases/${version}/bundle`, readFileSync(b.file))).status).toBe(201);
    const put = await api('PUT', `/api/fleet/releases/${version}`, signArtifact(releaseBody(version, b, over), KEY));
    expect(put.status, put.text).toBe(201);
  }

  beforeAll(async () => {
    cloud = await startFleetCloud([GW], { fleet: { releaseKeys: [KEY.publicKey] } });
    admin = cloud.bridge.fleet.parts!.adminTokens.issue('ops', Date.now());
    root = layRoot(join(dir, 'root'), '1.1.0');
    const data = {
      id: GW,
      dataDir: root.dataDir,
      logLevel: 'silent',
      broker: { port: 0, host: '127.0.0.1', auth: 'none' },
      http: { port: 0, host: '127.0.0.1' },
      uplink: { url: `mqtt://127.0.0.1:${cloud.bridge.brokerPort}`, password: cloud.passwords[GW] },
      fleet: { releaseKeys: [KEY.publicKey], tags: ['north'], cloudUrl: `http://127.0.0.1:${cloud.bridge.httpPort}`, releasesDir: root.releasesDir },
    };
    writeFileSync(join(root.root, 'gateway.yaml'), JSON.stringify(data));
    gw = new Gateway(parseGatewayConfig(data, root.root), {
      fleet: { source: { data, baseDir: root.root }, configRevision: null, running: { version: '1.1.0', releaseDir: join(root.releasesDir, '1.1.0') }, env: {}, machine: MACHINE, nodeAbi: ABI, retryMs: 200 },
    });
    await gw.start();
    void gw.exitRequest.then((c) => (exitCode = c));
  });
  afterAll(async () => {
    await gw?.stop();
    await cloud?.stop();
  });

  it('reports in, refuses a release for another machine, then adopts a good one fetched from the cloud with its credential', async () => {
    const store = cloud.bridge.fleet.store;
    await waitFor(() => store.gateway(GW)?.reported, 'the gateway reported to the cloud');
    expect(store.gateway(GW)!.tags).toEqual(['north']);
    expect(store.gateway(GW)!.reported!.running.version).toBe('1.1.0');

    await publish('1.1.5', buildBundle(dir, '1.1.5'), { machine: MACHINE === 'armv7l' ? 'aarch64' : 'armv7l' });
    expect((await api('PUT', '/api/fleet/desired', { target: { group: 'north' }, version: '1.1.5' })).status).toBe(200);
    await waitFor(() => store.history({ gateway: GW, limit: 50 }).find((e) => e.kind === 'refused'), 'the refusal in the cloud history', 20_000);
    expect(store.history({ gateway: GW, limit: 50 }).find((e) => e.kind === 'refused')!.detail).toMatchObject({ artifact: 'release', target: '1.1.5', reason: 'wrong-machine' });

    const good = buildBundle(dir, '1.2.0', { fillerBytes: 600_000 });
    await publish('1.2.0', good);
    expect((await api('PUT', '/api/fleet/desired', { target: { group: 'north' }, version: '1.2.0' })).status).toBe(200);
    await waitFor(() => exitCode === 75, 'exit 75 asked after the switch', 30_000);
    expect(readlinkSync(join(root.releasesDir, 'current'))).toBe('1.2.0');
    expect(readFileSync(join(root.stateDir, 'switch.state'), 'utf8')).toMatch(/^kind=release\ntarget=1\.2\.0\nprevious=1\.1\.0\nstep=trial\n/);
    // The bundle came from the cloud, over the gateway's own credential.
    expect(cloud.bridge.fleet.parts!.routes.bundleBytesSent).toBe(good.bytes);
    expect(cloud.bridge.fleet.parts!.routes.refused.unauthorized).toBe(0);
    await waitFor(() => store.gateway(GW)?.reported?.update?.step === 'switch', 'switch reported to the cloud');
    expect(store.gateway(GW)!.reported!.desiredSerial).toBe(store.gateway(GW)!.serial);
  });
});
