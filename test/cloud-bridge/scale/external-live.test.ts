import { connect, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { resolveCloudConfig } from '#cloud-bridge/config';
import { ExternalCloudBridge } from '#cloud-bridge/external-broker/external-cloud-bridge';
import type { LiveMessage } from '#cloud-bridge/live/live-event';
import { encodeBatch, decodeAck, type AckMessage } from '@fieldmesh/protocol';
import { tempDir, waitFor } from '../cloud-fixture.js';
import { startMosquitto } from './mosquitto.js';

describe('bridge behind a real Mosquitto (in process, SQLite): acks, presence, alerts and the live stream', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('acks batches, streams readings, status and alerts, and sees a dead gateway go offline by its will', async () => {
    const mosquitto = await startMosquitto();
    cleanups.push(() => mosquitto.stop());
    const tmp = tempDir('fm-ext-live-');
    cleanups.push(() => tmp.cleanup());
    const bridge = await ExternalCloudBridge.start(resolveCloudConfig({ broker: { url: mosquitto.url }, http: { port: 0 }, dataDir: tmp.dir }));
    cleanups.push(() => bridge.stop());
    const messages: LiveMessage[] = [];
    const ws = new WebSocket(`ws://127.0.0.1:${bridge.httpPort}/live?token=${bridge.live.issuedToken}`);
    cleanups.push(() => ws.terminate());
    ws.on('message', (d) => messages.push(JSON.parse(String(d)) as LiveMessage));
    await waitFor(() => messages.some((m) => m.type === 'hello'), 'hello');

    const gw: MqttClient = connect(mosquitto.url, {
      clientId: 'gw-e',
      reconnectPeriod: 0,
      will: { topic: 'fm/g/gw-e/status', payload: Buffer.from(JSON.stringify({ v: 1, online: false, ts: 0 })), qos: 1, retain: true },
    });
    cleanups.push(() => void gw.end(true));
    await new Promise<void>((resolve, reject) => {
      gw.once('connect', () => resolve());
      gw.once('error', reject);
    });
    const acks: AckMessage[] = [];
    gw.on('message', (_t, p) => acks.push(decodeAck(p)));
    await gw.subscribeAsync('fm/g/gw-e/ack', { qos: 1 });
    await gw.publishAsync('fm/g/gw-e/status', JSON.stringify({ v: 1, online: true, ts: Date.now(), backlog: 7 }), { qos: 1, retain: true });
    await gw.publishAsync('fm/g/gw-e/batch', encodeBatch({ gatewayId: 'gw-e', epoch: 'e1', readings: [{ seq: 1, series: 'dev1/temp', ts: 1000, value: 21.5, unit: 'Cel' }] }), { qos: 1 });
    await gw.publishAsync('fm/g/gw-e/alert', JSON.stringify({ v: 1, gateway: 'forged', type: 'raised', rule: 'hot', series: 'dev1/temp', severity: 'critical', value: 21.5, ts: 1000, reason: 'x' }), { qos: 1 });
    await gw.publishAsync('fm/g/gw-e/alert', '[not an object]', { qos: 1 });
    await waitFor(() => acks.length === 1, 'ack');
    expect(acks[0]).toMatchObject({ ok: true, stored: 1 });
    await waitFor(() => messages.some((m) => m.type === 'alert') && messages.some((m) => m.type === 'readings'), 'alert and readings streamed');
    expect(messages.find((m) => m.type === 'alert')).toMatchObject({ gateway: 'gw-e', alert: { gateway: 'gw-e', rule: 'hot' } });
    expect(messages.find((m) => m.type === 'readings')).toEqual({ type: 'readings', gateway: 'gw-e', readings: [{ series: 'dev1/temp', ts: 1000, value: 21.5, unit: 'Cel' }] });
    await waitFor(async () => (await bridge.store.gateways())[0]?.reportedBacklog === 7, 'status stored');
    await waitFor(() => bridge.live.alertsRefused === 1, 'bad alert refused');
    // Unclean death: Mosquitto publishes the will, the bridge marks it offline.
    (gw as unknown as { stream: { destroy(): void } }).stream.destroy();
    await waitFor(async () => (await bridge.store.gateways())[0]?.online === false, 'offline by the will');
    await waitFor(() => messages.some((m) => m.type === 'status' && m.gateway === 'gw-e' && !m.online), 'offline status streamed');
  }, 60_000);

  it('rides out a broker restart: reconnects, subscribes again, and acks the next batch', async () => {
    let mosquitto = await startMosquitto();
    const port = mosquitto.port;
    cleanups.push(() => mosquitto.stop());
    const tmp = tempDir('fm-ext-restart-');
    cleanups.push(() => tmp.cleanup());
    const bridge = await ExternalCloudBridge.start(resolveCloudConfig({ broker: { url: mosquitto.url }, http: { port: 0 }, dataDir: tmp.dir }));
    cleanups.push(() => bridge.stop());
    const gw: MqttClient = connect(mosquitto.url, { clientId: 'gw-r', reconnectPeriod: 200 });
    cleanups.push(() => void gw.end(true));
    const acks: AckMessage[] = [];
    gw.on('message', (_t, p) => acks.push(decodeAck(p)));
    gw.on('connect', () => void gw.subscribe('fm/g/gw-r/ack', { qos: 1 }));
    gw.on('error', () => {});
    await waitFor(() => gw.connected, 'gateway connected');
    const batch = (seq: number) => encodeBatch({ gatewayId: 'gw-r', epoch: 'e1', readings: [{ seq, series: 'dev1/temp', ts: seq, value: seq }] });
    await waitFor(async () => {
      if (acks.length === 0) gw.publish('fm/g/gw-r/batch', batch(1), { qos: 1 });
      return acks.length > 0;
    }, 'first ack');
    const connects = bridge.link.stats.connects;
    await mosquitto.stop();
    await waitFor(() => !bridge.link.connected, 'bridge notices the broker is gone');
    mosquitto = await startMosquitto(port);
    await waitFor(() => bridge.link.connected && bridge.link.stats.connects > connects && gw.connected, 'both reconnected', 30_000);
    // The subscriptions are made again on every connect: a batch published now is acked.
    await waitFor(async () => {
      if (!acks.some((a) => a.ok && a.lastSeq === 2)) gw.publish('fm/g/gw-r/batch', batch(2), { qos: 1 });
      return acks.some((a) => a.ok && a.lastSeq === 2);
    }, 'ack after the restart', 30_000);
    expect(await bridge.store.count()).toBe(2);
  }, 90_000);
});
