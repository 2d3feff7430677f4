/**
 * A real gateway (in this process) with `fleet:` configured against the fixture's cloud broker
 * and bundle server, in a temp root laid out as on a Pi: `<root>/opt/fieldmesh/releases` with the
 * running release and `current`, `<root>/var/lib/fieldmesh` as dataDir.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gateway } from '#gateway/gateway';
import { parseGatewayConfig, type GatewayConfigSource } from '#gateway/config/gateway-config';
import { ABI, KEY, MACHINE } from './fleet-fixture.js';

export const GW_PASSWORD = 'uplink-secret';

export interface FleetRoot {
  root: string;
  releasesDir: string;
  dataDir: string;
  stateDir: string;
}

/** The layout the image makes: releases/<running>/ with its manifest, and current → it. */
export function layRoot(root: string, running = '1.1.0'): FleetRoot {
  const releasesDir = join(root, 'opt/fieldmesh/releases');
  const dataDir = join(root, 'var/lib/fieldmesh');
  mkdirSync(join(releasesDir, running, 'gateway/bin'), { recursive: true });
  writeFileSync(join(releasesDir, running, 'bundle-manifest.json'), JSON.stringify({ format: 1, version: running, commit: 'c0ffee', machine: MACHINE, nodeAbi: ABI }));
  writeFileSync(join(releasesDir, running, 'gateway/bin/fieldmesh.js'), '');
  symlinkSync(running, join(releasesDir, 'current'));
  mkdirSync(join(dataDir, 'fleet', 'downloads'), { recursive: true });
  return { root, releasesDir, dataDir, stateDir: join(dataDir, 'fleet') };
}

/** The base config as the gateway command would read it from gateway.yaml. */
export function baseConfigData(r: FleetRoot, o: { gw: string; brokerUrl: string; cloudUrl: string | null; extraFleet?: Record<string, unknown>; password?: string; releaseKeys?: string[] }): Record<string, unknown> {
  return {
    id: o.gw,
    dataDir: r.dataDir,
    logLevel: 'silent',
    broker: { port: 0, host: '127.0.0.1', auth: 'none' },
    http: { port: 0, host: '127.0.0.1' },
    uplink: { url: o.brokerUrl, password: o.password ?? GW_PASSWORD },
    fleet: { releaseKeys: o.releaseKeys ?? [KEY.publicKey], tags: ['north'], cloudUrl: o.cloudUrl, releasesDir: r.releasesDir, ...o.extraFleet },
  };
}

export async function startFleetGateway(
  r: FleetRoot,
  o: { gw: string; brokerUrl: string; cloudUrl: string | null; password?: string; releaseKeys?: string[]; running?: string; configRevision?: number | null; env?: Record<string, string>; machine?: string; extraFleet?: Record<string, unknown>; retryMs?: number },
) {
  const data = baseConfigData(r, o);
  const source: GatewayConfigSource = { data, baseDir: r.root };
  const config = parseGatewayConfig(data, r.root);
  const running = o.running ?? '1.1.0';
  const gw = new Gateway(config, {
    fleet: {
      source,
      configRevision: o.configRevision ?? null,
      running: { version: running, releaseDir: join(r.releasesDir, running) },
      env: o.env ?? {},
      machine: o.machine ?? MACHINE,
      nodeAbi: ABI,
      retryMs: o.retryMs ?? 200,
    },
  });
  await gw.start();
  let exitCode: number | null = null;
  void gw.exitRequest.then((c) => (exitCode = c));
  return { gw, exitCode: () => exitCode, stop: () => gw.stop() };
}
