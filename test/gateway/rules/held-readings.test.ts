import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { encodeSenml, type Reading } from '@fieldmesh/device-sdk';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { Gateway } from '#gateway/gateway';
import { HeldReadings } from '#gateway/rules/held-readings';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import { labConfig, startCloud, tempDir, waitFor } from '../../cloud-bridge/cloud-fixture.js';

const reading = (i: number): Reading => ({ series: 'dev/t', ts: 1_000 + i, value: i });

describe('HeldReadings: what deadband rules keep back from the uplink', () => {
  it('leaves held readings out of the upstream view, reading past long held runs', () => {
    const log = new MemoryReadingLog();
    const { firstSeq } = log.append(Array.from({ length: 100 }, (_, i) => reading(i)));
    const held = new HeldReadings();
    // Forward seq 1, hold 2..90 (a long run), forward 91..100.
    held.record(firstSeq, Array.from({ length: 100 }, (_, i) => i === 0 || i >= 90));
    const view = held.upstreamView(log);
    expect(view.readAfter(0, 5).map((r) => r.seq)).toEqual([1, 91, 92, 93, 94]);
    expect(view.readAfter(1, 3).map((r) => r.seq)).toEqual([91, 92, 93]);
    expect(view.readAfter(100, 10)).toEqual([]);
    expect(held.held).toBe(89);
  });

  it('drops its blocks once the ack watermark passes them, so memory follows the unsent backlog', () => {
    const log = new MemoryReadingLog();
    const n = 20_000;
    log.append(Array.from({ length: n }, (_, i) => reading(i)));
    const held = new HeldReadings();
    held.record(1, Array.from({ length: n }, (_, i) => i % 2 === 0));
    expect(held.bytes).toBeGreaterThan(2_000);
    const view = held.upstreamView(log);
    view.advanceAckWatermark(n);
    // Only the block that still holds seqs above the watermark (20,001..20,479) is kept.
    expect(held.bytes).toBe(512);
    expect(held.isHeld(n - 1)).toBe(false);
    held.trimThrough(n + 4096);
    expect(held.bytes).toBe(0);
    expect(log.ackWatermark()).toBe(n);
  });
});

describe('deadband rules through the real gateway and cloud', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it('sends only readings that moved by the band upstream, keeps every reading locally, and lets the cursor pass held ones', async () => {
    const tmp = tempDir('fm-deadband-');
    cleanups.push(tmp.cleanup);
    const cloud = await startCloud(labConfig(`${tmp.dir}/cloud`));
    cleanups.push(() => cloud.stop());
    const config = parseGatewayConfig({
      id: 'gw-db',
      dataDir: `${tmp.dir}/gw`,
      broker: { port: 0, host: '127.0.0.1', auth: 'none' },
      http: { port: 0, host: '127.0.0.1' },
      uplink: { url: `mqtt://127.0.0.1:${cloud.brokerPort}` },
      rules: [{ id: 'temp-band', kind: 'deadband', series: '*/t', band: 1 }],
    });
    const gw = new Gateway(config, { print: () => {} });
    cleanups.push(() => gw.stop());
    const started = await gw.start();
    const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${started.brokerPort}`, { clientId: 'dev', reconnectPeriod: 0 });
    cleanups.push(() => dev.endAsync());
    const t0 = Date.now() - 60_000;
    const values = [20, 20.2, 20.5, 21.1, 21.3, 19.9, 20.1, 25, 25.5, 24.2];
    // Forwarded: 20 (first), 21.1 (1.1 from 20), 19.9 (1.2 from 21.1), 25; 24.2 is only 0.8 from
    // the last forwarded 25, so it is held like the others.
    const expected = [20, 21.1, 19.9, 25];
    const pack = values.map((v, i) => ({ series: 'dev/t', ts: t0 + i * 1000, value: v }));
    // A series no rule filters goes up whole.
    pack.push({ series: 'dev/h', ts: t0, value: 40 }, { series: 'dev/h', ts: t0 + 1000, value: 40 });
    await dev.publishAsync('fm/d/dev/senml', encodeSenml(pack), { qos: 1 });

    await waitFor(() => gw.store.ackWatermark() === gw.store.lastSeq() && gw.store.lastSeq() === 12, 'the cursor past every reading');
    const page = await cloud.store.readings({ gateway: 'gw-db', series: 'dev/t', from: 0, to: Date.now() + 1, limit: 100 });
    expect(page.map((r) => r.value)).toEqual(expected);
    const hum = await cloud.store.readings({ gateway: 'gw-db', series: 'dev/h', from: 0, to: Date.now() + 1, limit: 100 });
    expect(hum).toHaveLength(2);
    const local = (await (await fetch(`http://127.0.0.1:${started.httpPort}/api/readings?series=dev/t&from=0&to=${Date.now() + 1}`)).json()) as { readings: Array<{ value: number }> };
    expect(local.readings.map((r) => r.value)).toEqual(values);
    expect(gw.store.backlog().readings).toBe(0);
  });
});
