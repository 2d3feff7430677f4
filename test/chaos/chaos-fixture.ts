import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../cloud-bridge/cloud-fixture.js';
import { FieldmeshProcess, fieldmeshBin } from '../e2e/fieldmesh-process.js';

/** Kill cycles: ~10 in the default run, 100 with FM_CHAOS=1. */
export const CHAOS_KILLS = process.env.FM_CHAOS === '1' ? 100 : 10;

export { CountingDevice } from '../e2e/counting-device.js';

export interface ChaosSystem {
  dir: string;
  gwPort: number;
  gatewayHttp: number;
  cloudHttp: number;
  /** The live token the cloud printed at its first start (its HTTP API needs it). */
  cloudToken: string;
  gateway: FieldmeshProcess | null;
  cloud: FieldmeshProcess | null;
  startGateway(): Promise<void>;
  startCloud(): Promise<void>;
  status(): Promise<Record<string, any>>;
  stopAll(): Promise<void>;
}

/**
 * Gateway (and, with `cloud`, a cloud bridge) as child processes on fixed loopback ports, so
 * either can be SIGKILLed and restarted where the other expects it. `gatewayExtra`: YAML lines.
 */
export async function chaosSystem(dir: string, opts: { cloud: boolean; gatewayExtra?: string[] }): Promise<ChaosSystem> {
  let uplink = '';
  if (opts.cloud) {
    writeFileSync(join(dir, 'cloud.yaml'), 'broker: { port: 0, host: 127.0.0.1 }\nhttp: { port: 0, host: 127.0.0.1 }\ndataDir: ./cloud\n');
    const add = spawnSync(process.execPath, [fieldmeshBin, 'cloud', 'add-gateway', 'gw-chaos', '--config', join(dir, 'cloud.yaml')], { encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`add-gateway failed: ${add.stderr}`);
    const password = /password: (\S+)/.exec(add.stdout)![1]!;
    // The gateway signs its batches with the key add-gateway made; the cloud holds its public half.
    const signingKey = /signing key: (\S+)/.exec(add.stdout)![1]!;
    const cloudPort = await freePort();
    writeFileSync(join(dir, 'cloud.yaml'), `broker: { port: ${cloudPort}, host: 127.0.0.1 }\nhttp: { port: 0, host: 127.0.0.1 }\ndataDir: ./cloud\n`);
    uplink = `uplink: { url: "mqtt://127.0.0.1:${cloudPort}", username: gw-chaos, password: "${password}", signingKey: "${signingKey}" }`;
  }
  const gwPort = await freePort();
  writeFileSync(
    join(dir, 'gateway.yaml'),
    ['id: gw-chaos', 'dataDir: ./gw', `broker: { port: ${gwPort}, host: 127.0.0.1, auth: none }`, 'http: { port: 0, host: 127.0.0.1 }', uplink, ...(opts.gatewayExtra ?? []), ''].join('\n'),
  );
  const sys: ChaosSystem = {
    dir,
    gwPort,
    gatewayHttp: 0,
    cloudHttp: 0,
    cloudToken: '',
    gateway: null,
    cloud: null,
    async startCloud() {
      sys.cloud = new FieldmeshProcess(['cloud', '--config', join(dir, 'cloud.yaml'), '--log-level', 'warn']);
      await sys.cloud.waitForLine(/cloud broker: mqtt:\/\/[^:]+:(\d+)/);
      sys.cloudHttp = Number((await sys.cloud.waitForLine(/cloud http: http:\/\/[^:]+:(\d+)/))[1]);
      if (sys.cloudToken === '') sys.cloudToken = (await sys.cloud.waitForLine(/^live token: (\S+)$/m))[1]!;
    },
    async startGateway() {
      sys.gateway = new FieldmeshProcess(['gateway', '--config', join(dir, 'gateway.yaml'), '--log-level', 'warn']);
      sys.gatewayHttp = Number((await sys.gateway.waitForLine(/http: http:\/\/[^:]+:(\d+)/))[1]);
    },
    async status() {
      return (await (await fetch(`http://127.0.0.1:${sys.gatewayHttp}/api/status`)).json()) as Record<string, any>;
    },
    async stopAll() {
      await sys.gateway?.kill('SIGKILL');
      await sys.cloud?.kill('SIGKILL');
    },
  };
  if (opts.cloud) await sys.startCloud();
  await sys.startGateway();
  return sys;
}

export function seededRandom(): { seed: number; random: () => number } {
  const seed = Number(process.env.FM_SEED ?? Date.now() % 100_000);
  let rnd = seed;
  return { seed, random: () => ((rnd = (rnd * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31) };
}
