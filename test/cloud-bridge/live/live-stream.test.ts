import { createServer, type Server } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { connect, type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { silentLogger, systemClock } from '@fieldmesh/device-sdk';
import type { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { LiveService } from '#cloud-bridge/live/live-service';
import type { LiveMessage } from '#cloud-bridge/live/live-event';
import type { LoggedReading } from '#gateway/store/reading-log';
import { encodeBatch, decodeAck, type AckMessage } from '@fieldmesh/protocol';
import { labConfig, startCloud, tempDir, waitFor } from '../cloud-fixture.js';

const T0 = 1_767_225_600_000;
const readings = (first: number, n: number, series = 'dev1/temp'): LoggedReading[] =>
  Array.from({ length: n }, (_, i) => ({ seq: first + i, series, ts: T0 + (first + i) * 1000, value: 20 + (i % 10) / 10, unit: 'Cel' }));

type Received = { ws: WebSocket; messages: LiveMessage[]; closed: Promise<number> };

/** Opens a live WebSocket; resolves once the server's hello arrived (or rejects with the HTTP status). */
function subscribe(port: number, query: string): Promise<Received> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/live?${query}`);
    const messages: LiveMessage[] = [];
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.on('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.on('error', reject);
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as LiveMessage;
      messages.push(m);
      if (m.type === 'hello') resolve({ ws, messages, closed });
    });
  });
}

async function gateway(port: number, id: string): Promise<{ c: MqttClient; acks: AckMessage[] }> {
  const c = connect(`mqtt://127.0.0.1:${port}`, { clientId: id, reconnectPeriod: 0, protocolVersion: 4 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  const acks: AckMessage[] = [];
  c.on('message', (t, p) => {
    if (t.endsWith('/ack')) acks.push(decodeAck(p));
  });
  await c.subscribeAsync(`fm/g/${id}/ack`, { qos: 1 });
  return { c, acks };
}

const readingsOf = (msgs: LiveMessage[]) => msgs.flatMap((m) => (m.type === 'readings' ? m.readings.map((r) => ({ gateway: m.gateway, ...r })) : []));

describe('live subscriptions on a real bridge (aedes, SQLite, ws)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let cloud: CloudBridge | undefined;
  const closers: Array<() => void> = [];

  beforeEach(() => {
    tmp = tempDir('fm-live-');
  });
  afterEach(async () => {
    for (const c of closers.splice(0)) c();
    await cloud?.stop();
    cloud = undefined;
    tmp.cleanup();
  });

  it('streams committed readings and status, filtered by gateway and series patterns', async () => {
    cloud = await startCloud(labConfig(tmp.dir));
    const token = cloud.live.issuedToken!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const all = await subscribe(cloud.httpPort, `token=${token}`);
    const onlyTempOfA = await subscribe(cloud.httpPort, `token=${token}&gateway=gw-a&series=*/temp`);
    const statusOnly = await subscribe(cloud.httpPort, `token=${token}&kinds=status&gateway=gw-b`);
    closers.push(() => [all, onlyTempOfA, statusOnly].forEach((s) => s.ws.terminate()));
    const a = await gateway(cloud.brokerPort, 'gw-a');
    const b = await gateway(cloud.brokerPort, 'gw-b');
    closers.push(() => [a, b].forEach((g) => g.c.end(true)));
    await a.c.publishAsync('fm/g/gw-a/batch', encodeBatch({ gatewayId: 'gw-a', epoch: 'e1', readings: [...readings(1, 3), ...readings(4, 2, 'dev1/hum')] }), { qos: 1 });
    await b.c.publishAsync('fm/g/gw-b/batch', encodeBatch({ gatewayId: 'gw-b', epoch: 'e9', readings: readings(1, 4) }), { qos: 1 });
    await waitFor(() => a.acks.length === 1 && b.acks.length === 1, 'acks');
    await waitFor(() => readingsOf(all.messages).length === 9, 'all 9 readings on the unfiltered stream');
    expect(readingsOf(all.messages)[0]).toEqual({ gateway: 'gw-a', series: 'dev1/temp', ts: T0 + 1000, value: 20, unit: 'Cel' });
    await waitFor(() => readingsOf(onlyTempOfA.messages).length === 3, 'gw-a temp readings');
    // The same batch again stores nothing, so nothing is streamed again.
    await a.c.publishAsync('fm/g/gw-a/batch', encodeBatch({ gatewayId: 'gw-a', epoch: 'e1', readings: readings(1, 3) }), { qos: 1 });
    await waitFor(() => a.acks.length === 2, 'second ack');
    b.c.end(true);
    await waitFor(() => statusOnly.messages.some((m) => m.type === 'status' && !m.online), 'gw-b offline status');
    expect(readingsOf(onlyTempOfA.messages).every((r) => r.gateway === 'gw-a' && r.series === 'dev1/temp')).toBe(true);
    expect(readingsOf(all.messages)).toHaveLength(9);
    expect(readingsOf(onlyTempOfA.messages)).toHaveLength(3);
    expect(statusOnly.messages.filter((m) => m.type !== 'hello').every((m) => m.type === 'status' && m.gateway === 'gw-b')).toBe(true);
    expect(statusOnly.messages.some((m) => m.type === 'status' && m.online)).toBe(true);
  });

  it('a wrong or missing token gets 401 and nothing else; a bad filter gets 400', async () => {
    cloud = await startCloud(labConfig(tmp.dir));
    for (const q of ['', 'token=', 'token=nope', `token=${cloud.live.issuedToken}x`]) {
      await expect(subscribe(cloud.httpPort, q), q).rejects.toMatchObject({ status: 401 });
    }
    // Raw: the refusal is an HTTP answer and a closed connection, no upgrade.
    const raw = tcpConnect(cloud.httpPort, '127.0.0.1');
    let answer = '';
    raw.on('data', (d) => (answer += d.toString()));
    const ended = new Promise<void>((r) => raw.on('close', () => r()));
    raw.write('GET /live?token=wrong HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    await ended;
    expect(answer).toMatch(/^HTTP\/1.1 401/);
    expect(answer).not.toMatch(/101/);
    await expect(subscribe(cloud.httpPort, `token=${cloud.live.issuedToken}&series=(.*)`)).rejects.toMatchObject({ status: 400 });
    expect(cloud.live.metrics()).toMatchObject({ refusedToken: 5, refusedFilter: 1, accepted: 0 });
  });

  it('keeps the token across restarts (only its hash on disk) and prints none the second time', async () => {
    cloud = await startCloud(labConfig(tmp.dir));
    const token = cloud.live.issuedToken!;
    await cloud.stop();
    cloud = await startCloud(labConfig(tmp.dir));
    expect(cloud.live.issuedToken).toBeNull();
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(`${tmp.dir}/live-tokens.json`, 'utf8')).not.toContain(token);
    const s = await subscribe(cloud.httpPort, `token=${encodeURIComponent(token)}`);
    s.ws.terminate();
  });

  it('MQTT over WebSocket: token holders read fm/live/…, may not publish; gateways cannot publish there', async () => {
    cloud = await startCloud(labConfig(tmp.dir));
    const token = cloud.live.issuedToken!;
    const viewer = connect(`ws://127.0.0.1:${cloud.httpPort}/mqtt`, { username: 'dash', password: token, reconnectPeriod: 0, protocolVersion: 4 });
    closers.push(() => viewer.end(true));
    await new Promise<void>((resolve, reject) => {
      viewer.once('connect', () => resolve());
      viewer.once('error', reject);
    });
    const got: Array<{ topic: string; body: unknown }> = [];
    viewer.on('message', (topic, p) => got.push({ topic, body: JSON.parse(p.toString()) }));
    const granted = await viewer.subscribeAsync('fm/live/#', { qos: 0 });
    expect(granted.map((g) => g.qos)).toEqual([0]);
    // Anything outside fm/live/ is refused (SUBACK 0x80).
    await expect(viewer.subscribeAsync('fm/g/gw-a/batch', { qos: 0 })).rejects.toThrow(/Subscribe error/);
    // A gateway may not forge live data: aedes drops a 3.1.1 client whose publish is refused.
    const forger = await gateway(cloud.brokerPort, 'gw-f');
    closers.push(() => forger.c.end(true));
    const forgerClosed = new Promise<void>((r) => forger.c.once('close', () => r()));
    forger.c.publish('fm/live/gw-f/dev1/temp', JSON.stringify([{ ts: 1, value: 666 }]), { qos: 1 });
    await forgerClosed;
    const a = await gateway(cloud.brokerPort, 'gw-a');
    closers.push(() => a.c.end(true));
    await a.c.publishAsync('fm/g/gw-a/batch', encodeBatch({ gatewayId: 'gw-a', epoch: 'e1', readings: readings(1, 2) }), { qos: 1 });
    await waitFor(() => got.some((m) => m.topic === 'fm/live/gw-a/dev1/temp'), 'live series message');
    expect(got.some((m) => m.topic.startsWith('fm/live/gw-f/dev1'))).toBe(false);
    const series = got.filter((m) => m.topic === 'fm/live/gw-a/dev1/temp');
    expect(series).toEqual([{ topic: 'fm/live/gw-a/dev1/temp', body: [{ ts: T0 + 1000, value: 20, unit: 'Cel' }, { ts: T0 + 2000, value: 20.1, unit: 'Cel' }] }]);
    expect(cloud.access.stats.publishDenied).toBeGreaterThanOrEqual(1);
    // Status travels on fm/live/<gw>/status.
    await waitFor(() => got.some((m) => m.topic === 'fm/live/gw-a/status'), 'status topic');
    // A viewer's publish is refused: aedes drops an MQTT 3.1.1 client whose publish is not authorized.
    const closed = new Promise<void>((r) => viewer.once('close', () => r()));
    viewer.publish('fm/live/gw-a/dev1/temp', 'forged', { qos: 1 });
    await closed;
    expect(got.filter((m) => m.topic === 'fm/live/gw-a/dev1/temp')).toHaveLength(1);
    expect((cloud.live.metrics().mqtt as { publishDenied: number }).publishDenied).toBe(1);
  });

  it('MQTT over WebSocket with a wrong token is refused at CONNECT', async () => {
    cloud = await startCloud(labConfig(tmp.dir));
    const viewer = connect(`ws://127.0.0.1:${cloud.httpPort}/mqtt`, { username: 'dash', password: 'wrong', reconnectPeriod: 0, protocolVersion: 4 });
    closers.push(() => viewer.end(true));
    const err = await new Promise<Error>((resolve) => {
      viewer.once('error', resolve);
      viewer.once('connect', () => resolve(new Error('connected')));
    });
    expect(err.message).toMatch(/Not authorized/i);
  });

  it('a gateway keeps getting acks while a live subscriber stops reading; its backlog stays bounded', async () => {
    cloud = await startCloud(labConfig(tmp.dir));
    const stalled = await rawStalledSubscriber(cloud.httpPort, `token=${cloud.live.issuedToken}`);
    closers.push(() => stalled.destroy());
    const reader = await subscribe(cloud.httpPort, `token=${cloud.live.issuedToken}`);
    closers.push(() => reader.ws.terminate());
    const a = await gateway(cloud.brokerPort, 'gw-a');
    closers.push(() => a.c.end(true));
    const batches = 60;
    const per = 2000;
    for (let b = 0; b < batches; b++) {
      await a.c.publishAsync('fm/g/gw-a/batch', encodeBatch({ gatewayId: 'gw-a', epoch: 'e1', readings: readings(1 + b * per, per, `dev${b % 7}/temp`) }), { qos: 1 });
    }
    await waitFor(() => a.acks.length === batches, 'every batch acked', 60_000);
    expect(a.acks.every((x) => x.ok)).toBe(true);
    await waitFor(() => readingsOf(reader.messages).length === batches * per, 'the reading subscriber got everything', 60_000);
    const stats = cloud.live.server.subscriberStats();
    const slow = stats.find((s) => s.readingsSampled > 0);
    // ~10 MB of readings went past a subscriber that reads nothing: most were sampled away, and
    // what was queued for it is the soft limit plus at most a message or so.
    expect(slow, JSON.stringify(stats)).toBeDefined();
    expect(slow!.readingsSent + slow!.readingsSampled).toBeLessThanOrEqual(batches * per);
  });
});

/** Does the WebSocket handshake by hand, then never reads again (pauses the socket). */
async function rawStalledSubscriber(port: number, query: string): Promise<Socket> {
  const s = tcpConnect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    let head = '';
    s.on('error', reject);
    s.on('data', function onData(d) {
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        s.off('data', onData);
        s.pause();
        if (!head.startsWith('HTTP/1.1 101')) reject(new Error(head.split('\r\n')[0]));
        else resolve();
      }
    });
    s.write(`GET /live?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
  s.on('error', () => {});
  return s;
}

describe('live: a subscriber that stops reading is cut off, ingest never waits', () => {
  let server: Server | undefined;
  let live: LiveService | undefined;
  let tmp: ReturnType<typeof tempDir>;
  afterEach(async () => {
    live?.close();
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    tmp.cleanup();
  });

  it('bounds what is queued for it, samples, and cuts it off after stallMs', async () => {
    tmp = tempDir('fm-live-cut-');
    live = LiveService.open({ dataDir: tmp.dir, clock: systemClock, logger: silentLogger, limits: { softBytes: 64 * 1024, stallMs: 1500 } });
    server = createServer((_q, r) => r.end());
    server.on('upgrade', live.server.upgrade);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const stalled = await rawStalledSubscriber(port, `token=${live.issuedToken}`);
    const closed = new Promise<void>((r) => stalled.on('close', () => r()));
    const batch = Array.from({ length: 1000 }, (_, i) => ({ series: `dev${i % 50}/temp`, ts: T0 + i, value: i * 1.5, unit: 'Cel' }));
    let slowest = 0;
    let maxBuffered = 0;
    // ~60 MB offered: far past what loopback socket buffers absorb.
    for (let i = 0; i < 1000 && live.metrics().cutOff === 0; i++) {
      const t = performance.now();
      live.hub.readings('gw-a', batch);
      slowest = Math.max(slowest, performance.now() - t);
      maxBuffered = Math.max(maxBuffered, ...[...live.server['live'].keys()].map((ws) => ws.bufferedAmount));
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => live!.metrics().cutOff === 1, 'cut off', 30_000);
    // The peer sees its connection end once it reads again.
    stalled.resume();
    await closed;
    expect(live.metrics()).toMatchObject({ subscribers: 0, cutOff: 1 });
    expect((live.metrics() as { readingsSampled: number }).readingsSampled).toBeGreaterThan(0);
    // One batch message is ~70 kB: queued bytes never exceed the soft limit plus one message.
    expect(maxBuffered).toBeLessThan(64 * 1024 + 100 * 1024);
    // A hub call never waits on the peer: it returns in well under a second even on a loaded machine
    // (a blocking send would hang until the cut-off).
    expect(slowest).toBeLessThan(1000);
  }, 60_000);

  it('drops a subscriber that answers no ping (half-open TCP) and refuses more than maxSubscribers with 503', async () => {
    tmp = tempDir('fm-live-hb-');
    live = LiveService.open({ dataDir: tmp.dir, clock: systemClock, logger: silentLogger, server: { maxSubscribers: 2, heartbeatMs: 300 } });
    server = createServer((_q, r) => r.end());
    server.on('upgrade', live.server.upgrade);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const healthy = await subscribe(port, `token=${live.issuedToken}`);
    let pings = 0;
    healthy.ws.on('ping', () => pings++);
    const silent = await rawStalledSubscriber(port, `token=${live.issuedToken}`);
    silent.on('close', () => {});
    await expect(subscribe(port, `token=${live.issuedToken}`)).rejects.toMatchObject({ status: 503 });
    expect(live.metrics()).toMatchObject({ refusedFull: 1, subscribers: 2 });
    // No traffic at all: only the heartbeat can tell the silent one is gone.
    await waitFor(() => live!.metrics().deadDropped === 1, 'silent subscriber dropped', 30_000);
    // terminate() closes the socket; its 'close' event (which unregisters it) comes a tick later.
    await waitFor(() => live!.metrics().subscribers === 1, 'silent subscriber unregistered', 5_000);
    // The healthy one answers pings (ws does it for us) and stays through two more heartbeats.
    const heard = pings;
    await waitFor(() => pings >= heard + 2, 'two more heartbeats to the healthy subscriber', 10_000);
    expect(healthy.ws.readyState).toBe(WebSocket.OPEN);
    expect(live.metrics()).toMatchObject({ deadDropped: 1 });
    healthy.ws.terminate();
    silent.destroy();
  }, 60_000);
});
