import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { resolveCloudConfig, type CloudConfig } from '#cloud-bridge/config';

export { waitFor } from '../wait-for.js';

/**
 * A port that was free a moment ago (for a server started later on a known port), both for TCP
 * and UDP on 127.0.0.1 (mesh ports take both). Drawn at random from below the kernel's
 * ephemeral range: a port the kernel hands out for `listen(0)` elsewhere in the suite could be
 * taken between this check and the later bind, one from this range never is. Ports handed out
 * in this process are not handed out again.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  const from = 10_000;
  const to = Math.max(from + 1_000, low) - 1;
  for (let tries = 0; tries < 200; tries++) {
    const port = from + Math.floor(Math.random() * (to - from + 1));
    if (handedOut.has(port)) continue;
    if ((await bindable('tcp', port)) && (await bindable('udp', port))) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`freePort: no free port in ${from}-${to} after 200 tries`);
}

const handedOut = new Set<number>();

function ephemeralRange(): [number, number] {
  try {
    const [a, b] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/u).map(Number);
    if (a! > 0 && b! >= a!) return [a!, b!];
  } catch {
    // not Linux: the IANA dynamic range
  }
  return [49152, 65535];
}

function bindable(kind: 'tcp' | 'udp', port: number): Promise<boolean> {
  return new Promise((done) => {
    if (kind === 'tcp') {
      const s = createServer();
      s.once('error', () => done(false));
      s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
    } else {
      const s = createSocket('udp4');
      s.once('error', () => {
        s.close();
        done(false);
      });
      s.bind(port, '127.0.0.1', () => s.close(() => done(true)));
    }
  });
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function labConfig(dataDir: string, over: { auth?: 'none' | 'credentials'; brokerPort?: number; maxPacketBytes?: number } = {}): CloudConfig {
  return resolveCloudConfig({
    broker: { port: over.brokerPort ?? 0, host: '127.0.0.1', auth: over.auth ?? 'none', ...(over.maxPacketBytes ? { maxPacketBytes: over.maxPacketBytes } : {}) },
    http: { port: 0, host: '127.0.0.1' },
    dataDir,
  });
}

export async function startCloud(config: CloudConfig): Promise<CloudBridge> {
  return CloudBridge.start(config);
}

/** An MQTT 3.1.1 client logged in as gateway `id` on a lab (auth: none) bridge's broker. */
export async function connectGateway(port: number, id: string): Promise<MqttClient> {
  const c = connect(`mqtt://127.0.0.1:${port}`, { clientId: id, reconnectPeriod: 0, protocolVersion: 4 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}
