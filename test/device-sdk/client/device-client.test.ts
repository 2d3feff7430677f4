/** DeviceClient against a real aedes broker on loopback. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceClient, DeviceClientError, FileOfflineBuffer, MemoryOfflineBuffer } from '#device-sdk/client/index';
import { TestBroker } from './test-broker.js';
import { waitFor } from '../../wait-for.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function broker(users: Record<string, string> = { 'th-1': 's3cret' }): Promise<TestBroker> {
  const b = new TestBroker(users);
  await b.start();
  cleanups.push(() => b.stop());
  return b;
}

function client(opts: ConstructorParameters<typeof DeviceClient>[0]): DeviceClient {
  const c = new DeviceClient({ reconnect: { initialMs: 20, maxMs: 200 }, ...opts });
  cleanups.push(() => c.close());
  return c;
}

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'fm-client-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

describe('DeviceClient', () => {
  it('publishes SenML on fm/d/<device>/senml with increasing fm_seq, QoS 1, and flush() waits for the acks', async () => {
    const b = await broker();
    const c = client({ device: 'th-1', password: 's3cret', gateway: b.url() }).start();
    const s1 = c.publish([{ sensor: 't', value: 21.5, unit: 'Cel' }, { sensor: 'h', value: 40 }]);
    const s2 = c.publish([{ sensor: 'door/open', value: true, ts: Date.UTC(2026, 0, 1) }]);
    expect(s2).toBe(s1 + 1);
    expect(s1).toBeGreaterThanOrEqual(Date.now() - 60_000);
    await c.flush(20_000);
    expect(b.received.map((r) => r.topic)).toEqual(['fm/d/th-1/senml', 'fm/d/th-1/senml']);
    expect(b.seqs()).toEqual([s1, s2]);
    expect(b.received.map((r) => r.values)).toEqual([[21.5, 40], [true]]);
    expect(c.stats()).toMatchObject({ connected: true, published: 2, acked: 2, buffered: 0, dropped: 0, resent: 0 });
  });

  it('buffers while the gateway is down, drops the oldest beyond the bound (counted), and delivers the rest in order', async () => {
    const b = new TestBroker({ 'th-1': 's3cret' });
    await b.start();
    const port = b.port;
    await b.stop();
    const c = client({ device: 'th-1', password: 's3cret', gateway: `mqtt://127.0.0.1:${port}`, buffer: { maxMessages: 10 } }).start();
    const seqs = Array.from({ length: 15 }, (_, i) => c.publish([{ sensor: 'n', value: i }]));
    await waitFor(() => c.stats().connectFailures >= 2, 'failed connects');
    expect(c.stats()).toMatchObject({ buffered: 10, dropped: 5, connected: false, lastError: { code: 'FM_ERR_CLIENT_CONNECT' } });
    const b2 = new TestBroker({ 'th-1': 's3cret' });
    b2.port = port;
    await b2.start();
    cleanups.push(() => b2.stop());
    await c.flush(20_000);
    expect(b2.seqs()).toEqual(seqs.slice(5));
    expect(b2.received.map((r) => r.values[0])).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  });

  it('resends unacknowledged messages after a reconnect (same fm_seq), counting resends', async () => {
    const b = await broker();
    b.holdAcks = true;
    const c = client({ device: 'th-1', password: 's3cret', gateway: b.url() }).start();
    const seqs = [c.publish([{ sensor: 't', value: 1 }]), c.publish([{ sensor: 't', value: 2 }])];
    await waitFor(() => b.received.length === 2, 'first sends');
    // The gateway dies before committing: no PUBACK, connections dropped.
    const port = b.port;
    await b.stop();
    await waitFor(() => !c.stats().connected, 'disconnect seen');
    const b2 = new TestBroker({ 'th-1': 's3cret' });
    b2.port = port;
    await b2.start();
    cleanups.push(() => b2.stop());
    await c.flush(20_000);
    expect(b2.seqs()).toEqual(seqs);
    expect(c.stats()).toMatchObject({ resent: 2, acked: 2, disconnects: 1, connects: 2 });
  });

  it('keeps at most maxInFlight messages unacknowledged', async () => {
    const b = await broker();
    b.holdAcks = true;
    const c = client({ device: 'th-1', password: 's3cret', gateway: b.url(), maxInFlight: 4 }).start();
    for (let i = 0; i < 20; i++) c.publish([{ sensor: 'n', value: i }]);
    await waitFor(() => b.received.length === 4, 'four sends');
    // Nothing more can arrive: the client's own counter says it handed exactly four to the
    // connection, and with every publish() made and the acks held nothing wakes its pump again.
    expect(c.stats()).toMatchObject({ sent: 4, inFlight: 4, buffered: 20 });
    expect(b.received).toHaveLength(4);
    b.holdAcks = false;
    for (const release of b.held.splice(0)) release();
    await c.flush(20_000);
    expect(b.received.map((r) => r.values[0])).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('a wrong password is counted as an auth failure and retried, never thrown', async () => {
    const b = await broker();
    const c = client({ device: 'th-1', password: 'wrong', gateway: b.url() }).start();
    c.publish([{ sensor: 't', value: 1 }]);
    await waitFor(() => c.stats().authFailures >= 2, 'two refused logins');
    expect(c.stats().lastError!.code).toBe('FM_ERR_CLIENT_AUTH');
    expect(c.stats().buffered).toBe(1);
  });

  it('counts gateway refusals published on fm/d/<device>/rejected', async () => {
    const b = await broker();
    const c = client({ device: 'th-1', password: 's3cret', gateway: b.url() }).start();
    c.publish([{ sensor: 't', value: 1 }]);
    await c.flush(20_000);
    const seen: unknown[] = [];
    c.on('rejected', (n) => seen.push(n));
    await waitFor(() => (b.aedes?.connectedClients ?? 0) === 1, 'connected');
    // The subscription is made on connect; publish until it lands.
    await waitFor(() => {
      if (seen.length === 0) b.notify('fm/d/th-1/rejected', '{"reason":"bad_value","code":"FM_ERR_INGEST_VALUE","messageId":3}');
      return seen.length > 0;
    }, 'notice');
    expect(seen[0]).toEqual({ reason: 'bad_value', code: 'FM_ERR_INGEST_VALUE', messageId: 3 });
    expect(c.stats().gatewayRejected).toBeGreaterThanOrEqual(1);
  });

  it('a file buffer survives a restart of the bridge: unsent messages are delivered with their numbers, new numbers are higher', async () => {
    const dir = tmp();
    const file = join(dir, 'outbox.jsonl');
    const b = new TestBroker({ 'th-1': 's3cret' });
    await b.start();
    const port = b.port;
    await b.stop();
    const first = new DeviceClient({ device: 'th-1', password: 's3cret', gateway: `mqtt://127.0.0.1:${port}`, buffer: { file } });
    const old = [1, 2, 3].map((v) => first.publish([{ sensor: 't', value: v }]));
    await first.close(); // never started: the process "restarts"
    // A crash mid-write leaves a torn last line; it is skipped.
    appendFileSync(file, '{"s":99999999999999,"p":"[{');
    const b2 = new TestBroker({ 'th-1': 's3cret' });
    b2.port = port;
    await b2.start();
    cleanups.push(() => b2.stop());
    const second = client({ device: 'th-1', password: 's3cret', gateway: b2.url(), buffer: { file } }).start();
    const next = second.publish([{ sensor: 't', value: 4 }]);
    expect(next).toBeGreaterThan(old[2]!);
    await second.flush(20_000);
    expect(b2.seqs()).toEqual([...old, next]);
    await second.close();
    // Everything acknowledged: a third start has nothing to send.
    const third = new FileOfflineBuffer({ path: file });
    expect(third.size).toBe(0);
    expect(third.highestSeq).toBe(next);
    third.close();
  });

  it('validates options and readings with coded errors naming the field', () => {
    expect(() => new DeviceClient({ device: 'bad id', gateway: 'mqtt://x:1' })).toThrow(/option device/);
    expect(() => new DeviceClient({ device: 'd', gateway: 'http://x' })).toThrow(/option gateway/);
    expect(() => new DeviceClient({ device: 'd', gateway: 'mqtt://x:1', maxInFlight: 0 })).toThrow(/option maxInFlight/);
    expect(() => new DeviceClient({ device: 'd', gateway: 'mqtt://x:1', colour: 'red' } as never)).toThrow(/option colour: unknown/);
    const c = new DeviceClient({ device: 'd', gateway: 'mqtt://127.0.0.1:1' });
    cleanups.push(() => c.close());
    expect(() => c.publish([{ sensor: 'a b', value: 1 }])).toThrow(DeviceClientError);
    expect(() => c.publish([{ sensor: 't', value: Number.NaN }])).toThrow(/FM_ERR_CLIENT_READING/);
    expect(() => c.publish([])).toThrow(/at least one/);
    expect(c.stats().published).toBe(0);
  });
});

describe('offline buffers', () => {
  it.each([
    ['memory', () => new MemoryOfflineBuffer({ maxMessages: 5, maxBytes: 1000 })],
    ['file', () => new FileOfflineBuffer({ path: join(tmp(), 'b.jsonl'), maxMessages: 5, maxBytes: 1000 })],
  ])('%s: bounded by count and bytes, drops the oldest, acks out of order', (_n, make) => {
    const b = make();
    for (let i = 1; i <= 7; i++) b.push({ seq: i, payload: 'x'.repeat(10) });
    expect(b.size).toBe(5);
    expect(b.dropped).toBe(2);
    expect(b.after(-1, 100).map((m) => m.seq)).toEqual([3, 4, 5, 6, 7]);
    b.ack(5);
    b.ack(3);
    b.ack(42);
    expect(b.after(-1, 100).map((m) => m.seq)).toEqual([4, 6, 7]);
    expect(b.after(4, 1).map((m) => m.seq)).toEqual([6]);
    b.push({ seq: 8, payload: 'y'.repeat(991) });
    expect(b.after(-1, 100).map((m) => m.seq)).toEqual([8]);
    expect(b.bytes).toBe(991);
    expect(b.dropped).toBe(5);
    b.close();
  });

  it('file: compacts its journal and keeps the highest sequence number across compaction', () => {
    const path = join(tmp(), 'c.jsonl');
    const b = new FileOfflineBuffer({ path });
    for (let i = 1; i <= 3000; i++) {
      b.push({ seq: i, payload: 'p' });
      b.ack(i);
    }
    b.close();
    expect(readFileSync(path, 'utf8').split('\n').length).toBeLessThan(2100);
    const again = new FileOfflineBuffer({ path });
    expect(again.size).toBe(0);
    expect(again.highestSeq).toBe(3000);
    again.close();
    writeFileSync(path, 'garbage\n{"s":5,"p":"x"}\n');
    const torn = new FileOfflineBuffer({ path });
    expect(torn.corruptLines).toBe(1);
    expect(torn.size).toBe(1);
    torn.close();
  });
});
