import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { stringify } from 'yaml';
import { signArtifact, type ReleaseBody, type ReleaseKeyFile } from '@fieldmesh/protocol';
import { startFleetCloud, type FleetCloud } from '../cloud-bridge/fleet/fleet-fixture.js';
import { waitFor } from '../wait-for.js';
import type { FleetBundle } from './bundles-from-commits.js';
import { createSandboxRoot, type SandboxRoot } from './sandbox-root.js';
import { ServiceRunner } from './service-runner.js';

/**
 * End to end: a real cloud bridge (HTTP and broker on port 0, credentials auth) and gateways
 * run from real bundles in sandbox roots, each started by the launcher under the service runner.
 */
export { startFleetCloud, type FleetCloud };

export interface Answer {
  status: number;
  text: string;
  json<T = unknown>(): T;
}

/** One HTTP exchange on its own connection (no keep-alive socket to race a server's close). */
export function call(cloud: FleetCloud, method: string, path: string, opts: { token?: string; body?: Buffer | string; json?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: Buffer | string | undefined = opts.body;
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.json);
  }
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: cloud.bridge.httpPort, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, text, json: <T>() => JSON.parse(text) as T });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export function adminToken(cloud: FleetCloud): string {
  return cloud.bridge.fleet.parts!.adminTokens.issue('e2e', Date.now());
}

export function releaseBodyOf(b: FleetBundle): ReleaseBody {
  return { kind: 'release', version: b.version, sha256: b.sha256, bytes: b.bytes, commit: b.manifest.commit, machine: b.manifest.machine, nodeAbi: b.manifest.nodeAbi, createdAt: new Date().toISOString() };
}

/** What `fieldmesh fleet set-version` does over HTTP: upload the bundle, then its signed release. */
export async function uploadRelease(cloud: FleetCloud, token: string, b: FleetBundle, key: ReleaseKeyFile = cloud.key): Promise<void> {
  const up = await call(cloud, 'PUT', `/api/fleet/releases/${b.version}/bundle`, { token, body: readFileSync(b.file) });
  if (up.status !== 200 && up.status !== 201) throw new Error(`bundle upload ${b.version}: ${up.status} ${up.text}`);
  const env = await call(cloud, 'PUT', `/api/fleet/releases/${b.version}`, { token, json: signArtifact(releaseBodyOf(b), key) });
  if (env.status !== 200 && env.status !== 201) throw new Error(`release ${b.version}: ${env.status} ${env.text}`);
}

export async function setDesired(cloud: FleetCloud, token: string, body: Record<string, unknown>): Promise<Answer> {
  const r = await call(cloud, 'PUT', '/api/fleet/desired', { token, json: body });
  if (r.status !== 200) throw new Error(`PUT /api/fleet/desired: ${r.status} ${r.text}`);
  return r;
}

export interface GatewayView {
  id: string;
  online: boolean;
  running: { version: string; configRevision: number | null } | null;
  desired: { serial: number; version?: string; configRevision?: number; rollbackOrder?: number };
  desiredSerial: number | null;
  update: { kind: string; target: string | number; step: string; outcome: string; reason?: string; bytes?: number } | null;
  refused: { kind: string; target: string; reason: string; why: string }[];
}

export async function gatewayView(cloud: FleetCloud, token: string, id: string): Promise<GatewayView | undefined> {
  const r = await call(cloud, 'GET', '/api/fleet', { token });
  return r.json<{ gateways: GatewayView[] }>().gateways.find((g) => g.id === id);
}

export interface SandboxGateway {
  id: string;
  sb: SandboxRoot;
  runner: ServiceRunner;
  /** The device broker URL of the running start (its ready line). */
  brokerUrl(): string | undefined;
  stop(): Promise<void>;
}

export interface SandboxGatewayOptions {
  id: string;
  password?: string;
  fleet?: Record<string, unknown>;
  /** More top-level config sections (they replace the defaults of the same name). */
  extra?: Record<string, unknown>;
  /** Ports the gateway reaches the cloud on (a proxy in front of the cloud's). */
  httpPort?: number;
  brokerPort?: number;
}

export function gatewayYaml(root: string, o: SandboxGatewayOptions & { cloud: FleetCloud }): string {
  return stringify({
    id: o.id,
    dataDir: `${root}/var/lib/fieldmesh`,
    logLevel: 'info',
    broker: { port: 0, host: '127.0.0.1', auth: 'none' },
    http: { port: 0, host: '127.0.0.1' },
    mesh: { mdns: false },
    uplink: { url: `mqtt://127.0.0.1:${o.brokerPort ?? o.cloud.bridge.brokerPort}`, password: o.password ?? o.cloud.passwords[o.id] },
    fleet: {
      releaseKeys: [o.cloud.key.publicKey],
      tags: ['e2e'],
      cloudUrl: `http://127.0.0.1:${o.httpPort ?? o.cloud.bridge.httpPort}`,
      releasesDir: `${root}/opt/fieldmesh/releases`,
      confirmDeadlineSec: 10,
      maxAttempts: 2,
      ...o.fleet,
    },
    ...o.extra,
  });
}

/** A gateway laid out by first boot from `base`, started by the launcher under the runner. */
export function startSandboxGateway(cloud: FleetCloud, base: FleetBundle, o: SandboxGatewayOptions & { tmpParent: string; env?: Record<string, string> }): SandboxGateway {
  const sb = createSandboxRoot({ bundle: base.file, tmpParent: o.tmpParent, gatewayYaml: (root) => gatewayYaml(root, { ...o, cloud }) });
  const runner = new ServiceRunner({ execStart: sb.launcher, env: { ...sb.env, FM_LOG: 'json', ...o.env }, restartSec: 0.2, name: o.id });
  runner.start();
  return {
    id: o.id,
    sb,
    runner,
    brokerUrl: () => /broker: (mqtt:\/\/\S+)/u.exec(runner.current?.output ?? '')?.[1],
    stop: async () => {
      await runner.stop();
    },
  };
}

/** Waits until the cloud shows the gateway running `version` with no update in progress. */
export async function untilRunning(cloud: FleetCloud, token: string, id: string, version: string, ms = 60_000, detail?: () => string): Promise<GatewayView> {
  return waitFor(
    async () => {
      const g = await gatewayView(cloud, token, id);
      return g?.running?.version === version && g.update?.outcome !== 'in-progress' ? g : undefined;
    },
    `${id} runs ${version}`,
    ms,
    { everyMs: 100, detail },
  );
}
