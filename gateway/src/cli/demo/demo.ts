import { mkdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Clock, Logger } from '@fieldmesh/device-sdk';
import { batchSigner } from '@fieldmesh/protocol';
import type { CloudBridge } from '@fieldmesh/cloud-bridge';
import { PtySimulatedSensor, type SensorProfileName } from '@fieldmesh/hardware/sensors';
import { parseGatewayConfig } from '../../config/gateway-config.js';
import { FileCredentialStore } from '../../ingest/credentials.js';
import { Gateway } from '../../gateway.js';
import { loadCloudBridge } from '../cloud-bridge-package.js';
import { DemoSecrets } from './secrets.js';
import { SimulatedDevice } from './simulated-device.js';

export interface DemoOptions {
  /** Root of every demo data directory; reused on the next run. */
  dataDir: string;
  gateways: number;
  devicesPerGateway: number;
  /** How often each simulated device publishes, ms. */
  intervalMs: number;
  /** Dashboard (cloud HTTP) port; 0 picks a free one. */
  httpPort: number;
  host: string;
  clock: Clock;
  logger: Logger;
}

export interface RunningDemo {
  dashboardUrl: string;
  cloud: CloudBridge;
  gateways: Array<{ id: string; gateway: Gateway; brokerPort: number; httpPort: number }>;
  devices: SimulatedDevice[];
  /** Sensors on pseudo-terminals read by the gateways' serial ingest (none without socat). */
  serialSensors: Array<{ gateway: string; device: string; profile: SensorProfileName; path: string }>;
  /** Why there are no serial sensors, when there are none. */
  serialNote: string | null;
  stop(): Promise<void>;
}

/** One serial sensor per gateway, each speaking a different real protocol. */
const SERIAL_PROFILES: SensorProfileName[] = ['nmea0183', 'mhz19', 'pms5003'];

/**
 * Rules every demo gateway runs, so the alerts feed has something to show: the simulated CO2
 * swings across 800 ppm every few minutes, and a device that goes quiet is noticed.
 */
const DEMO_RULES = [
  { id: 'co2-high', kind: 'threshold', series: '*/co2', severity: 'warning', high: 800, hysteresis: 50 },
  { id: 'silent-device', kind: 'staleness', series: '*/*', severity: 'critical', after: '30s' },
];

/** gw-a, gw-b, … gw-z, then gw-27 onwards. */
export function demoGatewayId(i: number): string {
  return i < 26 ? `gw-${String.fromCharCode(97 + i)}` : `gw-${i + 1}`;
}

/**
 * The whole system on one machine, wired from the real parts: the cloud bridge with its broker and
 * SQLite store, gateways with their own brokers, logs and HTTP APIs, and devices publishing through
 * DeviceClient. Identities are created on the first run and reused on the next.
 */
export async function startDemo(o: DemoOptions): Promise<RunningDemo> {
  mkdirSync(o.dataDir, { recursive: true });
  const secrets = new DemoSecrets(join(o.dataDir, 'demo-secrets.json'));
  const { CloudBridge, GatewayCredentials, credentialsFile, resolveCloudConfig } = await loadCloudBridge();
  const cloudConfig = resolveCloudConfig({
    dataDir: join(o.dataDir, 'cloud'),
    broker: { port: 0, host: o.host, auth: 'credentials' },
    http: { port: o.httpPort, host: o.host },
  });
  mkdirSync(cloudConfig.dataDir, { recursive: true });
  const gatewayCredentials = new GatewayCredentials(credentialsFile(cloudConfig));

  const cloud = await CloudBridge.start(cloudConfig, { logger: o.logger.child({ part: 'cloud' }), clock: o.clock });
  const started: RunningDemo['gateways'] = [];
  const devices: SimulatedDevice[] = [];
  const ptys: PtySimulatedSensor[] = [];
  const serialSensors: RunningDemo['serialSensors'] = [];
  let serialNote: string | null = null;
  const stop = async () => {
    await Promise.allSettled(devices.map((d) => d.stop()));
    await Promise.allSettled(ptys.map((p) => p.stop()));
    await Promise.allSettled(started.map((g) => g.gateway.stop()));
    await cloud.stop();
  };
  // One site: the gateways share a cluster key and form a mesh, seeded by the first gateway
  // (mDNS is off so the demo never multicasts on the user's LAN).
  let meshKey = secrets.get('mesh:key');
  if (meshKey === undefined) {
    meshKey = randomBytes(32).toString('base64');
    secrets.set('mesh:key', meshKey);
  }
  let meshSeed: string | null = null;
  try {
    for (let i = 0; i < o.gateways; i++) {
      const id = demoGatewayId(i);
      const uplinkKey = `uplink:${id}`;
      let uplinkPassword = secrets.get(uplinkKey);
      // The signing key its batches carry; the cloud holds the public half (add-gateway).
      let signingKey = secrets.get(`sign:${id}`);
      const keyOk = signingKey !== undefined && gatewayCredentials.publicKey(id) === batchSigner(signingKey).publicKey;
      if (uplinkPassword === undefined || !keyOk || !(await gatewayCredentials.verify(id, uplinkPassword))) {
        const issued = gatewayCredentials.enrol(id, { rotate: true });
        uplinkPassword = issued.password;
        signingKey = issued.signingKey!;
        secrets.set(uplinkKey, uplinkPassword);
        secrets.set(`sign:${id}`, signingKey);
      }
      const deviceIds = Array.from({ length: o.devicesPerGateway }, (_, d) => `${id.slice(3)}-sensor${d + 1}`);
      const dataDir = join(o.dataDir, id);
      mkdirSync(dataDir, { recursive: true });
      const serial: Array<{ path: string; baud: number; profile: SensorProfileName; device: string }> = [];
      const profile = SERIAL_PROFILES[i % SERIAL_PROFILES.length]!;
      if (serialNote === null) {
        const ptyDir = join(o.dataDir, 'pty');
        mkdirSync(ptyDir, { recursive: true });
        const name = `${id}-${profile}`;
        // Links left by a previous run that was killed would point at ptys that no longer exist.
        rmSync(join(ptyDir, name), { force: true });
        rmSync(join(ptyDir, `${name}.sensor`), { force: true });
        try {
          const pty = await PtySimulatedSensor.start({ profile, dir: ptyDir, name, seed: i + 1, clock: o.clock });
          ptys.push(pty);
          const device = `${id.slice(3)}-${profile}`;
          serial.push({ path: pty.path, baud: 9600, profile, device });
          serialSensors.push({ gateway: id, device, profile, path: pty.path });
        } catch (err) {
          serialNote = `no serial sensors: ${(err as Error).message} (install socat to add them)`;
        }
      }
      const config = parseGatewayConfig({
        id,
        dataDir,
        serial,
        rules: DEMO_RULES,
        mesh: { port: 0, bind: o.host, mdns: false, key: meshKey, seeds: meshSeed ? [meshSeed] : [] },
        broker: { port: 0, host: o.host, auth: 'credentials', devices: deviceIds },
        http: { port: 0, host: o.host },
        uplink: { url: `mqtt://${o.host}:${cloud.brokerPort}`, username: id, password: uplinkPassword, signingKey },
      });
      const gateway = new Gateway(config, { logger: o.logger.child({ part: id }), clock: o.clock, print: () => {} });
      const res = await gateway.start();
      started.push({ id, gateway, brokerPort: res.brokerPort, httpPort: res.httpPort });
      meshSeed ??= gateway.mesh?.address ?? null;
      for (const c of res.newCredentials) secrets.set(`device:${c.device}`, c.password);

      const deviceStore = new FileCredentialStore(join(dataDir, 'devices.json'));
      for (const [d, device] of deviceIds.entries()) {
        let password = secrets.get(`device:${device}`);
        if (password === undefined || !(await deviceStore.verify(device, Buffer.from(password)))) {
          password = await deviceStore.rotate(device);
          secrets.set(`device:${device}`, password);
        }
        const sim = SimulatedDevice.connect({
          device,
          password,
          url: `mqtt://${o.host}:${res.brokerPort}`,
          intervalMs: o.intervalMs,
          clock: o.clock,
          logger: o.logger.child({ part: device }),
          seed: i * 31 + d,
          bufferFile: join(o.dataDir, `${device}.buffer`),
        });
        devices.push(sim);
        sim.start();
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  // The dashboard's live stream needs a token; the demo keeps one so the printed URL stays valid.
  let token = secrets.get('live:demo');
  if (token === undefined || !cloud.live.tokens.verify(token)) {
    token = cloud.live.tokens.issue('demo', o.clock.now());
    secrets.set('live:demo', token);
  }
  return { dashboardUrl: `http://${o.host}:${cloud.httpPort}/?token=${token}`, cloud, gateways: started, devices, serialSensors, serialNote, stop };
}
