import { connect, type MqttClient } from 'mqtt';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile } from '#cloud-bridge/cloud-bridge';
import { GatewayCredentials } from '#cloud-bridge/broker/credentials';
import { resolveCloudConfig } from '#cloud-bridge/config';
import type { LoggedReading } from '#gateway/store/reading-log';
import { encodeBatch } from '@fieldmesh/protocol';
import { tempDir } from '../cloud-bridge/cloud-fixture.js';
import { startBridgeProcess, type BridgeProcess } from '../cloud-bridge/scale/bridge-process.js';
import { alive, CHAOS, MiB, partialConnect, remainingLength, sampleRss, until } from './attack-fixture.js';

/**
 * Attacks on the cloud's MQTT listeners by strangers and by other credential holders, against a
 * real `fieldmesh cloud` process: partial CONNECTs declaring large packets, a huge CONNECT over
 * `/mqtt` in many WebSocket frames, connections that never CONNECT, a connection flood, and
 * client-id takeovers. Each: the process lives, RSS grows less than the bound, stored readings
 * are unchanged, and the refusal is counted with its reason in the metrics.
 */

/** RSS growth allowed during one attack: the guard keeps a few KiB per connection before login. */
const RSS_BOUND = 48 * MiB;
const MAX_CONNECTIONS = 150;

const readings = (first: number, n: number): LoggedReading[] =>
  Array.from({ length: n }, (_, i) => ({ seq: first + i, series: 'dev1/temp', ts: 1_767_225_600_000 + (first + i) * 1000, value: 20 + i, unit: 'Cel' }));

interface Metrics {
  receiver: { batchesCommitted: number; readingsStored: number };
  access: { clientIdRefused: number };
  refusedConnections: { broker: Record<string, number>; mqttWs: Record<string, number> };
}

describe('cloud MQTT listeners under attack (real fieldmesh cloud process)', () => {
  const tmp = tempDir('fm-sec-cloud-');
  let bridge: BridgeProcess;
  const passwords: Record<string, string> = {};
  const clients: MqttClient[] = [];
  let stored: unknown;

  const api = async (path: string): Promise<unknown> => (await fetch(`http://127.0.0.1:${bridge.httpPort}${path}`, { headers: { authorization: `Bearer ${bridge.liveToken}` } })).json();
  const metrics = async () => (await api('/api/metrics')) as Metrics;
  const gateway = async (id: string, clientId = id, password = passwords[id]): Promise<MqttClient> => {
    const c = connect(`mqtt://127.0.0.1:${bridge.brokerPort}`, { clientId, username: id, password: password!, reconnectPeriod: 0, protocolVersion: 4 });
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    const dataDir = `${tmp.dir}/data`;
    const creds = new GatewayCredentials(credentialsFile(resolveCloudConfig({ dataDir })));
    for (const id of ['gw-a', 'gw-b']) passwords[id] = creds.add(id);
    bridge = await startBridgeProcess(tmp.dir, {
      dataDir,
      broker: { port: 0, host: '127.0.0.1', auth: 'credentials', maxConnections: MAX_CONNECTIONS, connectTimeoutMs: 4000 },
    });
    const a = await gateway('gw-a');
    await a.publishAsync('fm/g/gw-a/batch', encodeBatch({ gatewayId: 'gw-a', epoch: 'e1', readings: readings(1, 50) }), { qos: 1 });
    await until(async () => (await metrics()).receiver.readingsStored === 50, 'first batch stored');
    stored = await api('/api/readings?gateway=gw-a&limit=1000');
  }, 60_000);

  afterAll(async () => {
    for (const c of clients.splice(0)) c.end(true);
    expect(alive(bridge.proc.pid!)).toBe(true);
    // Nothing stored was lost or changed by any attack.
    expect(await api('/api/readings?gateway=gw-a&limit=1000')).toEqual(stored);
    await bridge.kill('SIGTERM');
    tmp.cleanup();
  });

  it(`partial CONNECTs declaring 8 MiB are cut at the pre-authentication cap (RSS growth < ${RSS_BOUND / MiB} MiB)`, async () => {
    const n = CHAOS ? 100 : 20;
    const body = CHAOS ? 8 * MiB - 16 : 4 * MiB; // declared 8 MiB - 8: just under the 8 MiB packet cap
    const rss = sampleRss(bridge.proc.pid!);
    const results = await Promise.all(Array.from({ length: n }, () => partialConnect(bridge.brokerPort!, 8 * MiB - 8, body, 2000)));
    const { before, peak } = rss.stop();
    for (const r of results) r.socket.destroy();
    console.log(`partial CONNECT x${n}: RSS ${(before / MiB).toFixed(0)} → ${(peak / MiB).toFixed(0)} MiB; closed by server ${results.filter((r) => r.closedByServer).length}/${n}`);
    expect(alive(bridge.proc.pid!)).toBe(true);
    expect(peak - before).toBeLessThan(RSS_BOUND);
    expect(results.every((r) => r.closedByServer)).toBe(true);
    expect((await metrics()).refusedConnections.broker.preauth_packet_too_large).toBeGreaterThanOrEqual(n);
  }, 120_000);

  it('a 256 MiB CONNECT over /mqtt in 60 KiB WebSocket frames is cut at the first frame', async () => {
    const total = CHAOS ? 256 * MiB : 64 * MiB;
    const rss = sampleRss(bridge.proc.pid!);
    const ws = new WebSocket(`ws://127.0.0.1:${bridge.httpPort}/mqtt`, 'mqtt');
    ws.on('error', () => {});
    await new Promise<void>((r, j) => {
      ws.once('open', () => r());
      ws.once('error', j);
    });
    let closed = false;
    ws.once('close', () => (closed = true));
    const frame = Buffer.alloc(60 * 1024);
    let sent = 0;
    ws.send(Buffer.concat([Buffer.from([0x10]), remainingLength(256 * MiB - 1)]));
    while (sent < total && !closed) {
      ws.send(frame);
      sent += frame.length;
      if (ws.bufferedAmount > 4 * MiB) await new Promise((r) => setTimeout(r, 1));
    }
    await until(() => closed, 'server closes the WebSocket', 15_000).catch(() => {});
    const { before, peak } = rss.stop();
    ws.terminate();
    console.log(`/mqtt 256 MiB CONNECT: sent ${(sent / MiB).toFixed(1)} MiB before close; RSS ${(before / MiB).toFixed(0)} → ${(peak / MiB).toFixed(0)} MiB`);
    expect(closed).toBe(true);
    expect(peak - before).toBeLessThan(RSS_BOUND);
    expect((await metrics()).refusedConnections.mqttWs.preauth_packet_too_large).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('connections that never CONNECT are closed at the deadline, and the connection cap holds', async () => {
    const idle = CHAOS ? MAX_CONNECTIONS + 50 : MAX_CONNECTIONS + 10;
    const before = await metrics();
    const sockets = await Promise.all(Array.from({ length: idle }, () => partialConnect(bridge.brokerPort!, 100, 0, 0)));
    await until(() => sockets.every((s) => s.socket.destroyed || s.socket.closed), 'idle connections closed', 30_000);
    const after = await metrics();
    const refused = after.refusedConnections.broker;
    expect(refused.too_many_connections! - (before.refusedConnections.broker.too_many_connections ?? 0)).toBeGreaterThanOrEqual(idle - MAX_CONNECTIONS);
    // A CONNECT header declaring 100 bytes and no body never completes: the connect deadline closes it.
    expect(refused.connect_timeout! - (before.refusedConnections.broker.connect_timeout ?? 0)).toBeGreaterThanOrEqual(1);
    // The real gateway still gets in and its batches are committed.
    const b = await gateway('gw-b');
    await b.publishAsync('fm/g/gw-b/batch', encodeBatch({ gatewayId: 'gw-b', epoch: 'e1', readings: readings(1, 5) }), { qos: 1 });
    await until(async () => (await metrics()).receiver.batchesCommitted >= 2, 'gw-b batch committed');
  }, 60_000);

  it("neither another gateway's credential nor a viewer token can take gw-a's client id", async () => {
    const victim = clients[0]!;
    let kicked = 0;
    victim.on('close', () => kicked++);
    const before = (await metrics()).access.clientIdRefused;
    const tries = CHAOS ? 50 : 11;
    for (let i = 0; i < tries; i++) {
      await expect(gateway('gw-b', 'gw-a')).rejects.toThrow();
      // A viewer on /mqtt with client id gw-a lands in the `live:` namespace instead.
      const viewer = connect(`ws://127.0.0.1:${bridge.httpPort}/mqtt`, { clientId: 'gw-a', username: 'v', password: bridge.liveToken!, reconnectPeriod: 0, protocolVersion: 4 });
      await new Promise<void>((r, j) => {
        viewer.once('connect', () => r());
        viewer.once('error', j);
      });
      viewer.end(true);
    }
    expect((await metrics()).access.clientIdRefused - before).toBe(tries);
    expect(kicked).toBe(0);
    expect(victim.connected).toBe(true);
    await victim.publishAsync('fm/g/gw-a/batch', encodeBatch({ gatewayId: 'gw-a', epoch: 'e1', readings: readings(51, 5) }), { qos: 1 });
    await until(async () => (await metrics()).receiver.readingsStored >= 60, 'gw-a still delivers');
    stored = await api('/api/readings?gateway=gw-a&limit=1000');
  }, 60_000);
});
