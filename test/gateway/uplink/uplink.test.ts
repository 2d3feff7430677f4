import { createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger, type Reading, type Logger } from '@fieldmesh/device-sdk';
import { credentialsFile } from '#cloud-bridge/cloud-bridge';
import { GatewayCredentials } from '#cloud-bridge/broker/credentials';
import type { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import { BatchWindow, type InFlightBatch } from '#gateway/uplink/batch-window';
import { ReconnectBackoff } from '#gateway/uplink/reconnect-backoff';
import { Uplink } from '#gateway/uplink/uplink';
import { freePort, labConfig, startCloud, tempDir, waitFor } from '../../cloud-bridge/cloud-fixture.js';

const T0 = 1_767_225_600_000;
const burst = (from: number, n: number, device = 'dev1'): Reading[] =>
  Array.from({ length: n }, (_, i) => ({ series: `${device}/temp`, ts: T0 + (from + i) * 1000, value: 20 + ((from + i) % 50) / 10, unit: 'Cel' }));

describe('uplink against a real cloud bridge', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function setup() {
    const tmp = tempDir('fm-uplink-');
    cleanups.push(tmp.cleanup);
    const log = new SqliteReadingLog(join(tmp.dir, 'gw.sqlite'));
    cleanups.push(() => log.close());
    return { tmp, log };
  }

  async function cloudOn(dir: string, port: number): Promise<CloudBridge> {
    const cloud = await startCloud(labConfig(join(dir, 'cloud'), { brokerPort: port }));
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await cloud.stop();
    });
    const stop = cloud.stop.bind(cloud);
    cloud.stop = async () => {
      stopped = true;
      await stop();
    };
    return cloud;
  }

  function uplink(log: SqliteReadingLog | MemoryReadingLog, port: number, extra: Partial<ConstructorParameters<typeof Uplink>[0]> = {}) {
    const u = new Uplink({ gatewayId: 'gw-a', log, url: `mqtt://127.0.0.1:${port}`, backoffMinMs: 50, backoffMaxMs: 300, ackTimeoutMs: 5000, batchReadings: 500, ...extra });
    cleanups.push(() => u.stop());
    return u;
  }

  it('readings logged while the uplink is down reach the cloud exactly once after it returns, at once', async () => {
    const { tmp, log } = setup();
    const port = await freePort();
    const u = uplink(log, port);
    u.start();
    log.append(burst(0, 3000));
    await waitFor(() => u.stats().state === 'waiting', 'first connect to fail');
    log.append(burst(3000, 2000));
    u.notify();
    expect(log.ackWatermark()).toBe(0);

    const cloud = await cloudOn(tmp.dir, port);
    const back = Date.now();
    await waitFor(() => log.ackWatermark() === 5000, 'backlog drained');
    // Backoff is capped at 300 ms here: the drain must begin on reconnect, not on a later timer.
    expect(Date.now() - back).toBeLessThan(10_000);
    expect(await cloud.store.count()).toBe(5000);
    const rows = await cloud.store.readings({ gateway: 'gw-a', limit: 10_000 });
    expect(new Set(rows.map((r) => r.seq)).size).toBe(5000);
    expect(rows[0]).toMatchObject({ seq: 1, series: 'dev1/temp', ts: T0, value: 20, unit: 'Cel', epoch: log.epoch });

    // The cloud goes away mid-stream and comes back on the same store: still exactly once.
    await cloud.stop();
    await waitFor(() => u.stats().state !== 'online', 'uplink to notice');
    log.append(burst(5000, 1500));
    u.notify();
    const again = await cloudOn(tmp.dir, port);
    await waitFor(() => log.ackWatermark() === 6500, 'second drain');
    expect(await again.store.count()).toBe(6500);
    const s = u.stats();
    expect(s).toMatchObject({ state: 'online', backlog: 0, ackedSeq: 6500, batchesQuarantined: 0 });
    expect(s.connects).toBeGreaterThanOrEqual(2);
    expect(s.readingsAcked).toBeGreaterThanOrEqual(6500);
  });

  it('moves the cursor only on the cloud ack, never on PUBACK alone', async () => {
    const { log } = setup();
    // A bare broker: PUBACKs every batch, but nobody commits or acks.
    const aedes = await Aedes.createBroker();
    const server: Server = createServer((s) => aedes.handle(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => aedes.close(() => r()));
    });
    let published = 0;
    aedes.on('publish', (p) => {
      if (p.topic === 'fm/g/gw-a/batch') published++;
    });
    log.append(burst(0, 2000));
    const u = uplink(log, (server.address() as { port: number }).port, { maxInFlight: 3 });
    u.start();
    await waitFor(() => published >= 3, 'three batches published');
    expect(u.stats().inFlight).toBe(3);
    expect(log.ackWatermark()).toBe(0);
    expect(u.stats().batchesAcked).toBe(0);
  });

  it('quarantines only the reading the cloud keeps refusing, and delivers the rest', async () => {
    const { tmp, log } = setup();
    log.append(burst(0, 40));
    // Passes the log's last-line check but not the cloud's series-name rule: a poison reading.
    log.append([{ series: 'bad device/x', ts: T0, value: 1 }]);
    log.append(burst(41, 59));
    const cloud = await cloudOn(tmp.dir, 0);
    const u = uplink(log, cloud.brokerPort, { batchReadings: 32, maxRefusals: 3 });
    u.start();
    await waitFor(() => log.ackWatermark() === 100, 'queue to move past the poison');
    expect(await cloud.store.count()).toBe(99);
    expect(u.stats()).toMatchObject({ batchesQuarantined: 1, readingsQuarantined: 1 });
    expect(u.stats().batchesRefused).toBeGreaterThanOrEqual(3);
    expect(log.quarantined?.()).toEqual({ batches: 1, readings: 1 });
    expect(cloud.receiver.stats.refusedByCode.FM_ERR_CLOUD_BAD_BATCH_SERIES).toBeGreaterThanOrEqual(3);
  });

  it('splits batches over the byte cap, and quarantines locally a reading the codec cannot carry', async () => {
    const { tmp } = setup();
    const log = new MemoryReadingLog();
    log.append(Array.from({ length: 20 }, (_, i) => ({ series: 'cam/caption', ts: T0 + i, value: randomBytes(15_000).toString('base64') })));
    // The log accepts any safe-integer time; the batch format carries |ts| < 2^48 only.
    log.append([{ series: 'dev1/temp', ts: 2 ** 50, value: 1 }]);
    log.append(burst(0, 9));
    const cloud = await cloudOn(tmp.dir, 0);
    const u = uplink(log, cloud.brokerPort, { maxBatchBytes: 64 * 1024 });
    u.start();
    await waitFor(() => log.ackWatermark() === 30, 'drain past the unencodable reading');
    expect(await cloud.store.count()).toBe(29);
    const s = u.stats();
    expect(s).toMatchObject({ batchesQuarantined: 1, readingsQuarantined: 1, batchesRefused: 0 });
    // 20 random strings of 20 kB (about 15 kB compressed each) under a 64 kB cap: at least 5 batches.
    expect(s.batchesSent).toBeGreaterThanOrEqual(5);
    const back = await cloud.store.readings({ series: 'cam/caption', limit: 100 });
    expect(back.map((r) => r.value)).toEqual(log.readAfter(0, 20).map((r) => r.value));
  });

  it('a refused login keeps readings stored, warns once, and retries with backoff', async () => {
    const { tmp, log } = setup();
    const config = labConfig(join(tmp.dir, 'cloud'), { auth: 'credentials' });
    const password = new GatewayCredentials(credentialsFile(config)).add('gw-a');
    const cloud = await startCloud(config);
    cleanups.push(() => cloud.stop());
    log.append(burst(0, 10));
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (_o: object, msg?: string) => void warnings.push(msg ?? ''), child: () => logger };
    const bad = uplink(log, cloud.brokerPort, { username: 'gw-a', password: 'not-it', logger });
    bad.start();
    await waitFor(() => cloud.access.stats.authFailures >= 3, 'three refused logins');
    expect(log.ackWatermark()).toBe(0);
    expect(warnings.filter((w) => w.includes('refused the uplink login'))).toHaveLength(1);
    await bad.stop();
    const good = uplink(log, cloud.brokerPort, { username: 'gw-a', password });
    good.start();
    await waitFor(() => log.ackWatermark() === 10, 'drain with the right password');
  });

  it('publishes a retained status the cloud tracks; a clean stop reads offline', async () => {
    const { tmp, log } = setup();
    const cloud = await cloudOn(tmp.dir, 0);
    log.append(burst(0, 10));
    const u = uplink(log, cloud.brokerPort, { status: () => ({ members: 3 }) });
    u.start();
    await waitFor(async () => (await cloud.store.gateways()).some((g) => g.status?.members === 3 && g.online), 'status');
    await waitFor(() => log.ackWatermark() === 10, 'drain');
    await u.stop();
    await waitFor(async () => (await cloud.store.gateways())[0]?.online === false, 'offline');
    expect(u.stats().state).toBe('stopped');
  });
});

describe('uplink logic', () => {
  it('backoff doubles to its cap with equal jitter and resets', () => {
    let r = 0;
    const b = new ReconnectBackoff(100, 1000, () => r);
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([50, 100, 200, 400, 500, 500]);
    r = 1;
    expect(b.next()).toBe(1000);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('the watermark moves only over a contiguous run of acked batches, whatever the ack order', () => {
    const log = new MemoryReadingLog();
    log.append(burst(0, 30));
    const w = new BatchWindow(log);
    const mk = (first: number, last: number): InFlightBatch => ({ firstSeq: first, lastSeq: last, count: last - first + 1, payload: null, state: 'sent', attempts: 0, firstRefusalAcks: -1, reason: '', timer: null });
    for (const [a, b] of [[1, 10], [11, 20], [21, 30]] as const) w.add(mk(a, b));
    w.ackRange(21, 30);
    w.settle(() => {});
    expect(log.ackWatermark()).toBe(0);
    w.ackRange(11, 20);
    w.settle(() => {});
    expect(log.ackWatermark()).toBe(0);
    w.ackRange(1, 10);
    const out = w.settle(() => {});
    expect(log.ackWatermark()).toBe(30);
    expect(out).toMatchObject({ acked: 3, ackedReadings: 30 });
    expect(w.size).toBe(0);
  });

  it('refuses a bad url at construction', () => {
    expect(() => new Uplink({ gatewayId: 'g', log: new MemoryReadingLog(), url: 'cloud:1884' })).toThrow(/FM_ERR_UPLINK_CONFIG/);
    expect(() => new Uplink({ gatewayId: 'g', log: new MemoryReadingLog(), url: 'mqtt://x:1', maxInFlight: 0 })).toThrow(/maxInFlight/);
  });
});
