import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { resolveCloudConfig, type CloudConfig } from '#cloud-bridge/config';

export { waitFor } from '../wait-for.js';

/** A port that was free a moment ago (for a server started later on a known port). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
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
