import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signArtifact } from '#protocol/index';
import { GatewayCredentials } from '#cloud-bridge/broker/credentials';
import { CloudBridge, credentialsFile } from '#cloud-bridge/cloud-bridge';
import { resolveCloudConfig } from '#cloud-bridge/config';
import { makePki, type Pki } from '../../e2e/throwaway-pki.js';
import { KEY, releaseBody, type ServedBundle } from './fleet-fixture.js';

/**
 * A real cloud bridge whose embedded broker speaks mTLS (certificates made with openssl for this
 * run; a certificate is asked for, not required, so password gateways log in too), with the fleet
 * admin API: what the bundles-over-the-uplink tests and the chunk benchmark run against.
 */
export interface MtlsCloud {
  pki: Pki;
  cloud: CloudBridge;
  /** Uplink passwords of the gateways enrolled with one. */
  passwords: Record<string, string>;
  call(method: string, path: string, body?: Buffer | string, type?: string): Promise<{ status: number; text: string }>;
  /** What `fieldmesh fleet set-version` does before the desired state: the bundle, then its signed release. */
  addRelease(version: string, b: ServedBundle): Promise<void>;
  desire(gw: string, version: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startMtlsCloud(dir: string, o: { passwordGateways?: string[] } = {}): Promise<MtlsCloud> {
  mkdirSync(join(dir, 'pki'), { recursive: true });
  const pki = makePki(join(dir, 'pki'));
  const config = resolveCloudConfig({
    broker: { port: 0, host: '127.0.0.1', auth: 'credentials', tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: false } },
    http: { port: 0, host: '127.0.0.1' },
    dataDir: join(dir, 'cloud'),
    fleet: { releaseKeys: [KEY.publicKey] },
  });
  const creds = new GatewayCredentials(credentialsFile(config));
  const passwords: Record<string, string> = {};
  for (const id of o.passwordGateways ?? []) passwords[id] = creds.add(id);
  const cloud = await CloudBridge.start(config);
  const admin = cloud.fleet.parts!.adminTokens.issue('ops', Date.now());
  const call: MtlsCloud['call'] = async (method, path, body, type) => {
    const res = await fetch(`http://127.0.0.1:${cloud.httpPort}${path}`, { method, headers: { authorization: `Bearer ${admin}`, ...(type ? { 'content-type': type } : {}) }, ...(body !== undefined ? { body } : {}) });
    return { status: res.status, text: await res.text() };
  };
  const must = async (what: string, r: Promise<{ status: number; text: string }>, ok: number) => {
    const got = await r;
    if (got.status !== ok) throw new Error(`${what}: HTTP ${got.status} ${got.text}`);
  };
  return {
    pki,
    cloud,
    passwords,
    call,
    addRelease: async (version, b) => {
      await must(`bundle ${version}`, call('PUT', `/api/fleet/releases/${version}/bundle`, readFileSync(b.file)), 201);
      await must(`release ${version}`, call('PUT', `/api/fleet/releases/${version}`, JSON.stringify(signArtifact(releaseBody(version, b), KEY)), 'application/json'), 201);
    },
    desire: (gw, version) => must(`desired ${gw} ${version}`, call('PUT', '/api/fleet/desired', JSON.stringify({ target: { gateway: gw }, version }), 'application/json'), 200),
    stop: () => cloud.stop(),
  };
}
