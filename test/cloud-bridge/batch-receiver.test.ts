import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock, silentLogger } from '@fieldmesh/device-sdk';
import { BatchReceiver } from '#cloud-bridge/bridge/batch-receiver';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import { MemoryCloudStore } from '#cloud-bridge/store/memory-cloud-store';
import type { LoggedReading } from '#gateway/store/reading-log';
import { encodeBatch, type AckMessage } from '@fieldmesh/protocol';

const epochVectors = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'protocol', 'vectors', 'identifiers', 'epochs.json'), 'utf8')) as { invalid: string[] };

const readings = (first: number, n: number): LoggedReading[] => Array.from({ length: n }, (_, i) => ({ seq: first + i, series: 'd/t', ts: 1000 * (first + i), value: i }));

function rig(store = new MemoryCloudStore(), maxQueued = 1000) {
  const clock = new ManualClock();
  const acks: Array<{ gw: string; ack: AckMessage }> = [];
  const receiver = new BatchReceiver(store, async (gw, ack) => void acks.push({ gw, ack }), clock, silentLogger, new RateLimitedLog(silentLogger, clock), maxQueued);
  return { receiver, acks, store };
}

describe('BatchReceiver (in memory)', () => {
  it('acks only once the commit has resolved', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const store = new MemoryCloudStore();
    const commit = store.commitBatch.bind(store);
    store.commitBatch = async (...args) => {
      await gate;
      return commit(...args);
    };
    const { receiver, acks } = rig(store);
    receiver.receive('gw', encodeBatch({ gatewayId: 'gw', epoch: 'e', readings: readings(1, 10) }));
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(acks).toEqual([]);
    release();
    await receiver.idle();
    expect(acks).toEqual([{ gw: 'gw', ack: { v: 1, ok: true, epoch: 'e', firstSeq: 1, lastSeq: 10, stored: 10, duplicates: 0 } }]);
  });

  it('sends neither ack nor nack when the store fails: the gateway resends, nothing is quarantined for it', async () => {
    const store = new MemoryCloudStore();
    store.commitBatch = async () => {
      throw new Error('SQLITE_FULL (simulated)');
    };
    const { receiver, acks } = rig(store);
    receiver.receive('gw', encodeBatch({ gatewayId: 'gw', epoch: 'e', readings: readings(1, 10) }));
    await receiver.idle();
    expect(acks).toEqual([]);
    expect(receiver.stats.refusedByCode).toEqual({ FM_ERR_CLOUD_STORE: 1 });
  });

  it('refuses each epoch outside the grammar (FORMAT.md §3.2) with the decoder\'s code, echoing no epoch and storing nothing', async () => {
    const { receiver, acks, store } = rig();
    const invalid = epochVectors.invalid.filter((v) => Buffer.byteLength(v) <= 64); // longer ones cannot be encoded
    for (const epoch of invalid) receiver.receive('gw', encodeBatch({ gatewayId: 'gw', epoch, readings: readings(1, 3) }));
    await receiver.idle();
    expect(acks.map((a) => [a.ack.ok, a.ack.ok ? null : a.ack.code, a.ack.epoch])).toEqual(invalid.map(() => [false, 'FM_ERR_BATCH_MALFORMED', undefined]));
    expect(acks[0]!.ack).toMatchObject({ reason: expect.stringContaining('epoch') });
    expect(receiver.stats.refusedByCode).toEqual({ FM_ERR_BATCH_MALFORMED: invalid.length });
    expect(await store.gateways()).toEqual([]);
  });

  it('handles batches in arrival order and drops (unacked) beyond the queue bound', async () => {
    const { receiver, acks } = rig(new MemoryCloudStore(), 3);
    for (let i = 0; i < 6; i++) receiver.receive('gw', encodeBatch({ gatewayId: 'gw', epoch: 'e', readings: readings(1 + i * 10, 10) }));
    await receiver.idle();
    // The first starts at once; three wait; two are dropped.
    expect(acks.map((a) => (a.ack.ok ? a.ack.firstSeq : 0))).toEqual([1, 11, 21, 31]);
    expect(receiver.stats).toMatchObject({ batchesReceived: 6, batchesCommitted: 4, batchesDropped: 2 });
  });
});
