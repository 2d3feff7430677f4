import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { encodeSenml, type Reading } from '@fieldmesh/device-sdk';
import { freePort } from '../cloud-bridge/cloud-fixture.js';
import { FieldmeshProcess, fieldmeshBin } from '../e2e/fieldmesh-process.js';

/** Kill cycles: ~10 in the default run, 100 with FM_CHAOS=1. */
export const CHAOS_KILLS = process.env.FM_CHAOS === '1' ? 100 : 10;
const T = Date.UTC(2026, 0, 1);

/**
 * A device that publishes SenML packs numbered by fm_seq at QoS 1, one at a time, resending a
 * pack whose PUBACK it did not get (after reconnecting), as the device SDK does. Values are unique
 * counters (pack i holds i*perPack .. i*perPack+perPack-1), so every copy can be traced.
 */
export class CountingDevice {
  readonly acked = new Set<number>();
  next = 1;
  private stopped = false;
  private client: MqttClient | null = null;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly port: number,
    readonly perPack: number,
    private readonly id = 'dev1',
  ) {}

  start(): void {
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.client?.end(true);
    this.client = null;
  }

  /** Every pack sent so far was acknowledged (the one in flight included). */
  allAcked(): boolean {
    return this.acked.size === this.next - 1;
  }

  private pack(i: number): string {
    const readings: Reading[] = Array.from({ length: this.perPack }, (_, k) => ({ series: `${this.id}/s${k % 4}`, ts: T + i * 1000 + k, value: i * this.perPack + k }));
    return encodeSenml(readings, { deviceSeq: i });
  }

  private connectOnce(): Promise<MqttClient> {
    return new Promise((resolve, reject) => {
      const c = connect(`mqtt://127.0.0.1:${this.port}`, { clientId: this.id, reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4 });
      c.once('connect', () => resolve(c));
      c.once('error', (e) => (c.end(true), reject(e)));
      c.once('close', () => reject(new Error('closed')));
    });
  }

  private publishOnce(c: MqttClient, i: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('puback timeout')), 15_000);
      c.once('close', () => (clearTimeout(timer), reject(new Error('closed'))));
      c.publish(`fm/d/${this.id}/senml`, this.pack(i), { qos: 1 }, (err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (!this.client) {
        try {
          this.client = await this.connectOnce();
          this.client.setMaxListeners(0);
        } catch {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
      }
      try {
        await this.publishOnce(this.client, this.next);
        this.acked.add(this.next);
        this.next++;
      } catch {
        this.client?.end(true);
        this.client = null;
      }
    }
  }
}

export interface ChaosSystem {
  dir: string;
  gwPort: number;
  gatewayHttp: number;
  cloudHttp: number;
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
    const cloudPort = await freePort();
    writeFileSync(join(dir, 'cloud.yaml'), `broker: { port: ${cloudPort}, host: 127.0.0.1 }\nhttp: { port: 0, host: 127.0.0.1 }\ndataDir: ./cloud\n`);
    uplink = `uplink: { url: "mqtt://127.0.0.1:${cloudPort}", username: gw-chaos, password: "${password}" }`;
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
    gateway: null,
    cloud: null,
    async startCloud() {
      sys.cloud = new FieldmeshProcess(['cloud', '--config', join(dir, 'cloud.yaml'), '--log-level', 'warn']);
      await sys.cloud.waitForLine(/cloud broker: mqtt:\/\/[^:]+:(\d+)/);
      sys.cloudHttp = Number((await sys.cloud.waitForLine(/cloud http: http:\/\/[^:]+:(\d+)/))[1]);
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
