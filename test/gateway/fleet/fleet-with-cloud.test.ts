/**
 * The gateway's fleet agent against the real cloud bridge (not a stand-in): the operator uploads
 * a bundle and its signed envelope and sets the desired version over the cloud's HTTP API; the
 * gateway gets the retained desired state through the cloud broker's ACL, downloads the bundle
 * with its own uplink credential, switches, and the cloud sees the reported state.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signArtifact } from '#protocol/index';
import { startFleetCloud, type FleetCloud } from '../../cloud-bridge/fleet/fleet-fixture.js';
import { waitFor } from '../../wait-for.js';
import { buildBundle, releaseBody, tempRoot } from './fleet-fixture.js';
import { layRoot, startFleetGateway } from './fleet-gateway.js';

const GW = 'gw-e2e';
const dir = tempRoot();
let cloud: FleetCloud;
let admin: string;

function call(method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: cloud.bridge.httpPort, method, path, headers: { authorization: `Bearer ${admin}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  cloud = await startFleetCloud([GW]);
  admin = cloud.bridge.fleet.parts!.adminTokens.issue('ops', Date.now());
});
afterAll(async () => {
  await cloud.stop();
});

describe('fleet agent with the real cloud bridge', () => {
  it('set-version over the cloud API → the gateway fetches with its uplink credential, switches, reports; the cloud sees it', async () => {
    const b = buildBundle(dir, '1.2.0');
    expect((await call('PUT', '/api/fleet/releases/1.2.0/bundle', readFileSync(b.file))).status).toBe(201);
    const env = signArtifact(releaseBody('1.2.0', b), cloud.key);
    expect((await call('PUT', '/api/fleet/releases/1.2.0', JSON.stringify(env), { 'content-type': 'application/json' })).status).toBe(201);
    const set = await call('PUT', '/api/fleet/desired', JSON.stringify({ target: { gateway: GW }, version: '1.2.0' }), { 'content-type': 'application/json' });
    expect(set.status, set.text).toBe(200);

    const r = layRoot(join(dir, 'e2e'));
    const g = await startFleetGateway(r, {
      gw: GW,
      brokerUrl: `mqtt://127.0.0.1:${cloud.bridge.brokerPort}`,
      cloudUrl: `http://127.0.0.1:${cloud.bridge.httpPort}`,
      password: cloud.passwords[GW]!,
      releaseKeys: [cloud.key.publicKey],
    });
    try {
      await waitFor(() => g.exitCode() === 75, 'exit 75', 30_000);
      expect(readlinkSync(join(r.releasesDir, 'current'))).toBe('1.2.0');
      const seen = await waitFor(async () => {
        const s = JSON.parse((await call('GET', '/api/fleet')).text) as { gateways: Array<{ id: string; update: { step: string } | null; tags: string[] }> };
        const me = s.gateways.find((x) => x.id === GW);
        return me?.update?.step === 'switch' && me;
      }, 'the cloud sees the switch');
      expect(seen.update).toMatchObject({ kind: 'release', target: '1.2.0', outcome: 'in-progress' });
      expect(seen.tags).toEqual(['north']);
    } finally {
      await g.stop();
    }
  });
});
