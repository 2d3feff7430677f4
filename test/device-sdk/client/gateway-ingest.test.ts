/**
 * DeviceClient against the gateway's own ingest path: IngestBroker (aedes with credentials and
 * ACL), Ingest (group commit, fm_seq dedupe) and the SQLite reading log — the real receiving end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { connackRefusal } from '#device-sdk/client/connack';
import { DeviceClient, MemoryOfflineBuffer } from '#device-sdk/client/index';
import { encodeSenml } from '#device-sdk/senml/index';
import { IngestBroker } from '#gateway/ingest/broker';
import { MemoryCredentialStore } from '#gateway/ingest/credentials';
import { Ingest } from '#gateway/ingest/ingest';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { waitFor } from '../../wait-for.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function gateway() {
  const dir = mkdtempSync(join(tmpdir(), 'fm-sdk-gw-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const log = new SqliteReadingLog(join(dir, 'gateway.db'));
  cleanups.push(() => log.close());
  const ingest = new Ingest(log, { commitIntervalMs: 0, maxBatchReadings: 1000 });
  cleanups.push(() => ingest.stop());
  const credentials = new MemoryCredentialStore();
  const [cred] = await credentials.ensure(['th-1']);
  const broker = new IngestBroker({
    config: { port: 0, host: '127.0.0.1', auth: 'credentials', maxPacketBytes: 257 * 1024, connectTimeoutMs: 10_000, maxConnections: 100 },
    ingest,
    credentials,
  });
  await broker.start();
  cleanups.push(() => broker.stop());
  return { log, ingest, url: `mqtt://127.0.0.1:${broker.port}`, password: cred!.password };
}

describe('DeviceClient → gateway ingest (IngestBroker + Ingest + SQLite)', () => {
  it('stores every reading durably, acknowledges, and stores a resent fm_seq once', async () => {
    const gw = await gateway();
    const t = Date.UTC(2026, 2, 1);
    // A buffer that already holds a message the gateway will also get as a new one: a resend.
    const buffer = new MemoryOfflineBuffer();
    const client = new DeviceClient({ device: 'th-1', password: gw.password, gateway: gw.url, buffer });
    cleanups.push(() => client.close());
    client.start();
    const seqs = Array.from({ length: 30 }, (_, i) => client.publish([{ sensor: 't', value: 20 + i / 10, ts: t + i * 1000, unit: 'Cel' }, { sensor: 'h', value: 40 + i, ts: t + i * 1000 }]));
    await client.flush(30_000);
    expect(gw.log.readAfter(0, 1000)).toHaveLength(60);
    // Resend the first message with its original number, as after a lost PUBACK.
    buffer.push({ seq: seqs[0]!, payload: encodeSenml([{ series: 'th-1/t', ts: t, value: 20, unit: 'Cel' }, { series: 'th-1/h', ts: t, value: 40 }], { deviceSeq: seqs[0]! }) });
    // The client only sends numbers above its cursor; a fresh client on the same buffer resends it.
    await client.close();
    const again = new DeviceClient({ device: 'th-1', password: gw.password, gateway: gw.url, buffer });
    cleanups.push(() => again.close());
    again.start();
    await again.flush(30_000);
    expect(gw.ingest.stats.duplicates).toBe(1);
    const stored = gw.log.readAfter(0, 1000);
    expect(stored).toHaveLength(60);
    expect(stored[0]).toMatchObject({ series: 'th-1/t', ts: t, value: 20, unit: 'Cel' });
    expect(stored.at(-1)).toMatchObject({ series: 'th-1/h', ts: t + 29_000, value: 69 });
  });

  it('a reading the gateway refuses is acknowledged, not stored, and reported back to the client', async () => {
    const gw = await gateway();
    const client = new DeviceClient({ device: 'th-1', password: gw.password, gateway: gw.url });
    cleanups.push(() => client.close());
    const notices: { reason: string }[] = [];
    client.on('rejected', (n: { reason: string }) => notices.push(n));
    client.start();
    await new Promise<void>((r) => client.once('connect', () => r()));
    // The SDK encodes strings of any length; the gateway stores at most 1,024 characters.
    client.publish([{ sensor: 'msg', value: 'x'.repeat(5000) }]);
    client.publish([{ sensor: 't', value: 1 }]);
    await client.flush(30_000);
    await waitFor(() => notices.length > 0, 'the rejection notice', 20_000, { everyMs: 10 });
    expect(notices[0]!.reason).toMatch(/malformed_senml|bad_value/);
    expect(gw.log.readAfter(0, 100).map((r) => r.series)).toEqual(['th-1/t']);
    expect(client.stats()).toMatchObject({ acked: 2, gatewayRejected: 1 });
  });

  it('a wrong password gets no data in', async () => {
    const gw = await gateway();
    const client = new DeviceClient({ device: 'th-1', password: 'guess', gateway: gw.url, reconnect: { initialMs: 20, maxMs: 50 } });
    cleanups.push(() => client.close());
    client.start();
    client.publish([{ sensor: 't', value: 1 }]);
    await waitFor(() => client.stats().authFailures >= 2, 'two refused logins', 20_000, { everyMs: 10 });
    expect(client.stats().authFailures).toBeGreaterThanOrEqual(2);
    // The device's side says what the gateway's log says, and the fix.
    expect(client.stats().lastError).toMatchObject({ code: 'FM_ERR_CLIENT_AUTH', connack: 4 });
    expect(client.stats().lastError!.message).toMatch(/CONNACK 4, bad username or password.*fieldmesh gateway add-device th-1/);
    expect(gw.log.readAfter(0, 10)).toHaveLength(0);
  });

  it('a client id that is not the device id gets CONNACK 2, and the SDK says the rule', async () => {
    const gw = await gateway();
    const raw = mqtt.connect(gw.url, { clientId: 'my-laptop', username: 'th-1', password: gw.password, reconnectPeriod: 0, protocolVersion: 4 });
    const err = await new Promise<Error & { code?: number }>((res) => raw.once('error', res));
    raw.end(true);
    expect(err.code).toBe(2);
    expect(connackRefusal(err.code!, 'th-1')).toMatch(/client id "th-1".*must be the device id, the same as the username/);
    // The same login with the device id as client id is accepted.
    const ok = mqtt.connect(gw.url, { clientId: 'th-1', username: 'th-1', password: gw.password, reconnectPeriod: 0 });
    await new Promise<void>((res, rej) => (ok.once('connect', () => res()), ok.once('error', rej)));
    await ok.endAsync();
  });
});
