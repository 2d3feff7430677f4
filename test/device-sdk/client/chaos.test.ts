/**
 * The gateway restarts again and again while a device publishes: nothing published is lost
 * (every fm_seq reaches a broker at least once), nothing is dropped while the buffer has room.
 * Short by default; FM_CHAOS=1 runs 30 restarts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceClient } from '#device-sdk/client/index';
import { TestBroker } from './test-broker.js';
import { waitFor } from '../../wait-for.js';

const RESTARTS = process.env.FM_CHAOS ? 30 : 3;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('DeviceClient under gateway restarts', () => {
  it(`delivers every message through ${RESTARTS} restarts, in order per connection`, async () => {
    const users = { 'th-1': 's3cret' };
    let broker = new TestBroker(users);
    await broker.start();
    const port = broker.port;
    const all: TestBroker[] = [broker];
    cleanups.push(async () => {
      for (const b of all) await b.stop();
    });
    const client = new DeviceClient({ device: 'th-1', password: 's3cret', gateway: `mqtt://127.0.0.1:${port}`, reconnect: { initialMs: 10, maxMs: 100 }, maxInFlight: 8 });
    cleanups.push(() => client.close());
    client.start();
    const published: number[] = [];
    let value = 0;
    const timer = setInterval(() => {
      for (let k = 0; k < 5; k++) published.push(client.publish([{ sensor: 'n', value: value++ }]));
    }, 5);
    cleanups.push(() => clearInterval(timer));
    for (let i = 0; i < RESTARTS; i++) {
      await waitFor(() => broker.received.length >= 20, 'twenty messages at the broker', 20_000, { everyMs: 5 });
      // Hold acks now and then so a restart catches messages in flight.
      broker.holdAcks = i % 2 === 0;
      await new Promise((r) => setTimeout(r, 20));
      await broker.stop();
      broker = new TestBroker(users);
      broker.port = port;
      await broker.start();
      all.push(broker);
    }
    clearInterval(timer);
    await client.flush(30_000);
    const seen = new Set(all.flatMap((b) => b.seqs()));
    expect(published.filter((s) => !seen.has(s))).toEqual([]);
    const st = client.stats();
    expect(st.dropped).toBe(0);
    expect(st.connects).toBeGreaterThanOrEqual(RESTARTS + 1);
    expect(st.acked).toBe(published.length);
    // Each broker saw its messages in increasing order, starting over with the unacked ones.
    for (const b of all) {
      const s = b.seqs();
      expect(s).toEqual([...s].sort((x, y) => x - y));
    }
  });
});
