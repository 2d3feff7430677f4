import { connect as tcpConnect } from 'node:net';
import Database from 'better-sqlite3';
import { connect, type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { credentialsFile } from '#cloud-bridge/cloud-bridge';
import { GatewayCredentials } from '#cloud-bridge/broker/credentials';
import type { LoggedReading } from '#gateway/store/reading-log';
import { encodeBatch, decodeAck, type AckMessage } from '@fieldmesh/protocol';
import { labConfig, startCloud, tempDir, waitFor } from './cloud-fixture.js';

const readings = (first: number, n: number, series = 'dev1/temp'): LoggedReading[] =>
  Array.from({ length: n }, (_, i) => ({ seq: first + i, series, ts: 1_767_225_600_000 + (first + i) * 1000, value: 20 + (i % 10) / 10, unit: 'Cel' }));

async function mqttClient(port: number, opts: { clientId: string; username?: string; password?: string }): Promise<MqttClient> {
  const c = connect(`mqtt://127.0.0.1:${port}`, { ...opts, reconnectPeriod: 0, protocolVersion: 4 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

describe('cloud bridge over real aedes, mqtt.js and SQLite', () => {
  let tmp: ReturnType<typeof tempDir>;
  let cloud: CloudBridge;
  const clients: MqttClient[] = [];

  beforeEach(async () => {
    tmp = tempDir('fm-cloud-');
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    await cloud?.stop();
    tmp.cleanup();
  });

  async function gateway(id: string, creds: { username?: string; password?: string } = {}) {
    const c = await mqttClient(cloud.brokerPort, { clientId: id, ...creds });
    clients.push(c);
    const acks: AckMessage[] = [];
    c.on('message', (_t, p) => acks.push(decodeAck(p)));
    await c.subscribeAsync(`fm/g/${id}/ack`, { qos: 1 });
    return { c, acks };
  }

  it('stores a batch once when it comes twice, and acks only after the commit', async () => {
    cloud = await startCloud(labConfig(tmp.dir));
    const { c, acks } = await gateway('gw-a');
    const payload = encodeBatch({ gatewayId: 'gw-a', epoch: 'e1', readings: readings(1, 500) });
    // A second connection to the database file sees only committed rows.
    const reader = new Database(cloud.config.store, { readonly: true });
    const committedAtAck: number[] = [];
    c.on('message', () => committedAtAck.push(Number(reader.prepare('SELECT count(*) FROM readings').pluck().get())));
    await c.publishAsync('fm/g/gw-a/batch', payload, { qos: 1 });
    await c.publishAsync('fm/g/gw-a/batch', payload, { qos: 1 });
    await waitFor(() => acks.length === 2, 'two acks');
    expect(acks[0]).toEqual({ v: 1, ok: true, epoch: 'e1', firstSeq: 1, lastSeq: 500, stored: 500, duplicates: 0 });
    expect(acks[1]).toMatchObject({ ok: true, stored: 0, duplicates: 500 });
    expect(committedAtAck).toEqual([500, 500]);
    reader.close();
    expect(await cloud.store.count()).toBe(500);
    const [g] = await cloud.store.gateways();
    expect(g).toMatchObject({ id: 'gw-a', online: true, epoch: 'e1', ackedSeq: 500 });
  });

  it('refuses corrupt batches with a nack, stores nothing, counts them', async () => {
    cloud = await startCloud(labConfig(tmp.dir));
    const { c, acks } = await gateway('gw-a');
    const good = encodeBatch({ gatewayId: 'gw-a', epoch: 'e1', readings: readings(1, 50) });
    const flipped = Buffer.from(good);
    flipped[20] = flipped[20]! ^ 0xff;
    const badSeries = encodeBatch({ gatewayId: 'gw-a', epoch: 'e1', readings: readings(1, 5, 'no device/x') });
    const otherGateway = encodeBatch({ gatewayId: 'gw-b', epoch: 'e1', readings: readings(1, 5) });
    for (const p of [Buffer.from('garbage, long enough to pass the length check'), flipped, badSeries, otherGateway]) await c.publishAsync('fm/g/gw-a/batch', p, { qos: 1 });
    await waitFor(() => acks.length === 4, 'four answers');
    expect(acks.map((a) => [a.ok, a.ok ? '' : a.code])).toEqual([
      [false, 'FM_ERR_BATCH_MAGIC'],
      [false, 'FM_ERR_BATCH_CHECKSUM'],
      [false, 'FM_ERR_CLOUD_BAD_BATCH_SERIES'],
      [false, 'FM_ERR_CLOUD_BATCH_GATEWAY'],
    ]);
    // A refusal with a readable header names the batch, so the gateway can count it against that batch.
    expect(acks[2]).toMatchObject({ epoch: 'e1', firstSeq: 1, lastSeq: 5 });
    expect(await cloud.store.count()).toBe(0);
    expect(cloud.receiver.stats.batchesRefused).toBe(4);
    expect(cloud.receiver.stats.refusedByCode).toMatchObject({ FM_ERR_BATCH_MAGIC: 1, FM_ERR_BATCH_CHECKSUM: 1 });
  });

  it('ACL: a gateway cannot publish under another gateway nor read its acks', async () => {
    cloud = await startCloud(labConfig(tmp.dir));
    const victim = await gateway('gw-b');
    const intruder = await mqttClient(cloud.brokerPort, { clientId: 'gw-x' });
    clients.push(intruder);
    // SUBACK 0x80: mqtt.js 5 turns a refused subscription into an error.
    await expect(intruder.subscribeAsync('fm/g/gw-b/ack', { qos: 1 })).rejects.toThrow(/Subscribe error/);
    const closed = new Promise<void>((r) => intruder.once('close', () => r()));
    intruder.publish('fm/g/gw-b/batch', encodeBatch({ gatewayId: 'gw-b', epoch: 'e', readings: readings(1, 3) }), { qos: 1 });
    await closed; // aedes drops a client whose publish is not authorized
    expect(cloud.access.stats.publishDenied).toBe(1);
    expect(cloud.access.stats.subscribeDenied).toBe(1);
    // The victim's own path still works, and nothing of the intruder's was stored.
    await victim.c.publishAsync('fm/g/gw-b/batch', encodeBatch({ gatewayId: 'gw-b', epoch: 'e', readings: readings(1, 3) }), { qos: 1 });
    await waitFor(() => victim.acks.length === 1, 'victim ack');
    expect(await cloud.store.count()).toBe(3);
  });

  it('credentials: only a gateway with its issued password gets in', async () => {
    const config = labConfig(tmp.dir, { auth: 'credentials' });
    const password = new GatewayCredentials(credentialsFile(config)).add('gw-a');
    cloud = await startCloud(config);
    const refused = (opts: { clientId: string; username?: string; password?: string }) =>
      new Promise<string>((resolve) => {
        const c = connect(`mqtt://127.0.0.1:${cloud.brokerPort}`, { ...opts, reconnectPeriod: 0 });
        c.once('error', (err) => {
          c.end(true);
          resolve(err.message);
        });
        c.once('connect', () => {
          c.end(true);
          resolve('connected');
        });
      });
    expect(await refused({ clientId: 'x' })).not.toBe('connected');
    expect(await refused({ clientId: 'gw-a', username: 'gw-a', password: 'wrong' })).not.toBe('connected');
    expect(await refused({ clientId: 'gw-zz', username: 'gw-zz', password })).not.toBe('connected');
    // A gateway added while the bridge runs can log in at once.
    const later = new GatewayCredentials(credentialsFile(config)).add('gw-late');
    const { acks, c } = await gateway('gw-late', { username: 'gw-late', password: later });
    await c.publishAsync('fm/g/gw-late/batch', encodeBatch({ gatewayId: 'gw-late', epoch: 'e', readings: readings(1, 2) }), { qos: 1 });
    await waitFor(() => acks.length === 1, 'ack');
    // The right password under someone else's client id would take that session over: refused.
    expect(await refused({ clientId: 'anything', username: 'gw-a', password })).not.toBe('connected');
    const ok = await mqttClient(cloud.brokerPort, { clientId: 'gw-a', username: 'gw-a', password });
    clients.push(ok);
    expect(cloud.access.stats.authFailures).toBe(4);
    expect(cloud.access.stats.clientIdRefused).toBe(1);
  });

  it('drops a connection that declares an oversized packet before buffering it', async () => {
    cloud = await startCloud(labConfig(tmp.dir, { maxPacketBytes: 64 * 1024 }));
    const sock = tcpConnect(cloud.brokerPort, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    // CONNECT (MQTT 3.1.1, client id "big"), then a PUBLISH header declaring 256 MiB - 1.
    const connectPacket = Buffer.from([0x10, 15, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 3, 0x62, 0x69, 0x67]);
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.on('error', () => {});
    sock.write(Buffer.concat([connectPacket, Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), Buffer.alloc(1000)]));
    await closed;
    // Pipelined before CONNACK, the PUBLISH header is still under the pre-authentication cap.
    expect(cloud.broker.guard.refused.preauth_packet_too_large).toBe(1);
  });

  it('tracks gateway status from retained status messages and the last will', async () => {
    cloud = await startCloud(labConfig(tmp.dir));
    const c = connect(`mqtt://127.0.0.1:${cloud.brokerPort}`, {
      clientId: 'gw-s',
      reconnectPeriod: 0,
      will: { topic: 'fm/g/gw-s/status', payload: Buffer.from('{"v":1,"online":false}'), qos: 1, retain: true },
    });
    await new Promise<void>((r) => c.once('connect', () => r()));
    await c.publishAsync('fm/g/gw-s/status', JSON.stringify({ v: 1, online: true, backlog: 1234 }), { qos: 1, retain: true });
    await waitFor(async () => (await cloud.store.gateways())[0]?.reportedBacklog === 1234, 'status recorded');
    expect((await cloud.store.gateways())[0]).toMatchObject({ id: 'gw-s', online: true });
    (c as unknown as { stream: { destroy(): void } }).stream.destroy(); // unclean: the will fires
    await waitFor(async () => (await cloud.store.gateways())[0]?.online === false, 'offline after the will');
    c.end(true);
  });

  it('HTTP: gateways, series, readings with 400 on bad parameters, and the page', async () => {
    cloud = await startCloud(labConfig(tmp.dir));
    await cloud.store.commitBatch('gw-a', 'e', readings(1, 20), Date.now());
    await cloud.store.commitBatch('gw-a', 'e', readings(21, 5, 'dev2/<b>x'), Date.now());
    const base = `http://127.0.0.1:${cloud.httpPort}`;
    const get = async (path: string) => {
      const r = await fetch(base + path, { headers: { authorization: `Bearer ${cloud.live.issuedToken}` } });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of several shapes
      const body: any = r.headers.get('content-type')?.includes('json') ? await r.json() : await r.text();
      return { status: r.status, body };
    };
    expect((await get('/api/gateways')).body.gateways[0]).toMatchObject({ id: 'gw-a', ackedSeq: 25 });
    expect((await get('/api/series')).body.series.map((s: { series: string }) => s.series)).toEqual(['dev1/temp', 'dev2/<b>x']);
    const from = 1_767_225_600_000 + 5000;
    const r = await get(`/api/readings?gateway=gw-a&series=dev1/temp&from=${from}&to=${from + 3000}`);
    expect(r.status).toBe(200);
    expect(r.body.readings.map((x: { seq: number }) => x.seq)).toEqual([5, 6, 7]);
    const page1 = await get('/api/readings?gateway=gw-a&limit=15');
    expect(page1.body.readings).toHaveLength(15);
    const page2 = await get(`/api/readings?gateway=gw-a&limit=15&after=${encodeURIComponent(page1.body.next)}`);
    expect(page2.body.readings.map((x: { seq: number }) => x.seq)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    expect(page2.body.next).toBeNull();
    for (const bad of ['after=1~x', 'from=abc', 'to=1&from=2', 'gateway=a%20b', 'series=nodevice', 'limit=0', 'bogus=1']) {
      const res = await get(`/api/readings?${bad}`);
      expect(res.status, bad).toBe(400);
      expect(typeof res.body.error).toBe('string');
    }
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('gw-a');
    expect(page.body).toContain('dev2/&lt;b&gt;x');
    expect(page.body).not.toContain('<b>x');
  });
});
