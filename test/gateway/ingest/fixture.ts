import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '@fieldmesh/device-sdk';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { Ingest } from '#gateway/ingest/ingest';
import { IngestBroker } from '#gateway/ingest/broker';
import { MemoryCredentialStore } from '#gateway/ingest/credentials';
import type { BrokerConfig } from '#gateway/config/broker';
import { waitFor } from '../../wait-for.js';

export interface Rig {
  dir: string;
  dbFile: string;
  log: SqliteReadingLog;
  ingest: Ingest;
  broker: IngestBroker;
  passwords: Map<string, string>;
  url: string;
  clients: MqttClient[];
  sockets: Socket[];
  close(): Promise<void>;
}

/** A real broker on a loopback port over a real SQLite file in a temp dir. */
export async function startRig(
  opts: { broker?: Partial<BrokerConfig>; commitThread?: boolean; commitIntervalMs?: number; maxBatchReadings?: number; logger?: Logger; devices?: string[] } = {},
): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-ingest-'));
  const dbFile = join(dir, 'gateway.db');
  const log = new SqliteReadingLog(dbFile, { commitThread: opts.commitThread ?? true });
  const ingest = new Ingest(log, { commitIntervalMs: opts.commitIntervalMs ?? 2, maxBatchReadings: opts.maxBatchReadings ?? 5000 });
  const credentials = new MemoryCredentialStore();
  const created = await credentials.ensure(opts.devices ?? ['dev1', 'dev2']);
  const config = {
    port: 0,
    host: '127.0.0.1',
    auth: 'credentials' as const,
    maxPacketBytes: 64 * 1024,
    connectTimeoutMs: 10_000,
    maxConnections: 100,
    ...opts.broker,
  };
  const broker = new IngestBroker({ config, ingest, credentials, ...(opts.logger ? { logger: opts.logger } : {}), rejectLogIntervalMs: 60_000 });
  await broker.start();
  const rig: Rig = {
    dir,
    dbFile,
    log,
    ingest,
    broker,
    passwords: new Map(created.map((c) => [c.device, c.password])),
    url: `mqtt://127.0.0.1:${broker.port}`,
    clients: [],
    sockets: [],
    async close() {
      for (const c of rig.clients) c.end(true);
      for (const s of rig.sockets) s.destroy();
      await broker.stop();
      await ingest.stop();
      await log.closeAsync();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return rig;
}

/** Connects as `device` with its generated password; resolves on CONNACK, rejects on refusal. */
export function connectDevice(rig: Rig, device: string, extra: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(rig.url, {
    clientId: device,
    username: device,
    password: rig.passwords.get(device) ?? 'nope',
    reconnectPeriod: 0,
    connectTimeout: 30_000,
    ...extra,
  });
  rig.clients.push(client);
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', (err) => reject(err));
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

export function publish(client: MqttClient, topic: string, payload: string | Buffer, qos: 0 | 1 = 1): Promise<void> {
  return new Promise((resolve, reject) => client.publish(topic, payload, { qos }, (err) => (err ? reject(err) : resolve())));
}

/** A raw TCP connection, for bytes no MQTT client would send. */
export function rawSocket(rig: Rig): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(rig.broker.port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
    rig.sockets.push(s);
  });
}

export function closed(s: Socket, deadlineMs = 20_000): Promise<number> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    if (s.destroyed) return resolve(0);
    const t = setTimeout(() => reject(new Error('socket not closed in time')), deadlineMs);
    s.on('error', () => {});
    // Unread bytes (a CONNACK) would hold back 'end' and so 'close': drain them.
    s.resume();
    s.once('close', () => {
      clearTimeout(t);
      resolve(Date.now() - start);
    });
  });
}

/** An MQTT 3.1.1 CONNECT (§3.1) with a clean session and the given client id / credentials. */
export function connectPacket(clientId: string, username?: string, password?: string): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s);
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  };
  let flags = 0x02;
  if (username !== undefined) flags |= 0x80;
  if (password !== undefined) flags |= 0x40;
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, flags, 0, 60]),
    str(clientId),
    ...(username !== undefined ? [str(username)] : []),
    ...(password !== undefined ? [str(password)] : []),
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/** Polls `check` until it returns true, with a deadline (no fixed sleeps). */
export { waitFor };
/** `waitFor` with this fixture's older argument order (check, deadline, what). */
export const until = (check: () => boolean, deadlineMs = 20_000, what = 'condition'): Promise<true> => waitFor(() => check() || undefined, what, deadlineMs, { everyMs: 10 });
