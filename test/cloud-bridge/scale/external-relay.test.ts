import { connect } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { resolveCloudConfig } from '#cloud-bridge/config';
import { ExternalCloudBridge } from '#cloud-bridge/external-broker/external-cloud-bridge';
import type { LiveMessage } from '#cloud-bridge/live/live-event';
import { encodeBatch, decodeAck, type AckMessage } from '@fieldmesh/protocol';
import { tempDir, waitFor } from '../cloud-fixture.js';
import { startMosquitto } from './mosquitto.js';
import { freshDatabase, startPgCluster } from './pg-cluster.js';

describe('live stream across bridges sharing PostgreSQL (LISTEN/NOTIFY relay)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('a subscriber of one bridge sees every reading exactly once, whichever bridge committed it', async () => {
    const cluster = await startPgCluster();
    cleanups.push(() => cluster.stop());
    const mosquitto = await startMosquitto();
    cleanups.push(() => mosquitto.stop());
    const url = await freshDatabase(cluster);
    const bridges: ExternalCloudBridge[] = [];
    for (const name of ['a', 'b']) {
      const tmp = tempDir(`fm-relay-${name}-`);
      cleanups.push(() => tmp.cleanup());
      const b = await ExternalCloudBridge.start(resolveCloudConfig({ broker: { url: mosquitto.url }, http: { port: 0 }, dataDir: tmp.dir, store: url }));
      cleanups.push(() => b.stop());
      bridges.push(b);
    }
    const [a, b] = bridges as [ExternalCloudBridge, ExternalCloudBridge];
    const got: Array<{ series: string; ts: number }> = [];
    const ws = new WebSocket(`ws://127.0.0.1:${a.httpPort}/live?token=${a.live.issuedToken}&kinds=readings`);
    cleanups.push(() => ws.terminate());
    let hello = false;
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as LiveMessage;
      if (m.type === 'hello') hello = true;
      if (m.type === 'readings') got.push(...m.readings.map((r) => ({ series: r.series, ts: r.ts })));
    });
    await waitFor(() => hello, 'hello');
    const gw = connect(mosquitto.url, { clientId: 'gw-r', reconnectPeriod: 0 });
    cleanups.push(() => void gw.end(true));
    await new Promise<void>((resolve, reject) => {
      gw.once('connect', () => resolve());
      gw.once('error', reject);
    });
    const acks: AckMessage[] = [];
    gw.on('message', (_t, p) => acks.push(decodeAck(p)));
    await gw.subscribeAsync('fm/g/gw-r/ack', { qos: 1 });
    const batches = 40;
    const per = 100;
    for (let k = 0; k < batches; k++) {
      const readings = Array.from({ length: per }, (_, i) => ({ seq: k * per + i + 1, series: `dev${i % 4}/temp`, ts: 1000 * (k * per + i + 1), value: i, unit: 'Cel' }));
      await gw.publishAsync('fm/g/gw-r/batch', encodeBatch({ gatewayId: 'gw-r', epoch: 'e1', readings }), { qos: 1 });
    }
    await waitFor(() => acks.length === batches, 'all acked');
    expect(acks.every((x) => x.ok)).toBe(true);
    // Both bridges took a share of the batches…
    expect(a.receiver.stats.batchesCommitted).toBeGreaterThan(0);
    expect(b.receiver.stats.batchesCommitted).toBeGreaterThan(0);
    expect(a.receiver.stats.batchesCommitted + b.receiver.stats.batchesCommitted).toBe(batches);
    // …and a's subscriber saw all of them once: its own commits directly, b's through the relay.
    await waitFor(() => got.length >= batches * per, 'every reading on the live stream', 30_000);
    expect(new Set(got.map((r) => r.ts)).size).toBe(batches * per);
    expect(got).toHaveLength(batches * per);
    expect(a.relay!.stats.relayedBatches).toBe(b.receiver.stats.batchesCommitted);
  }, 120_000);
});
