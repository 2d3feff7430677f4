import { describe, expect, it } from 'vitest';
import { ManualClock, type Reading } from '@fieldmesh/device-sdk';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import { decodeBatch, encodeAck } from '@fieldmesh/protocol';
import { MemoryUplinkLink, type LinkMessage } from '#gateway/uplink/memory-uplink-link';
import { Uplink, type UplinkOptions } from '#gateway/uplink/uplink';

/**
 * Uplink logic on the in-memory link and a ManualClock: backoff, ack timeouts and outages happen
 * when the test moves the clock, never by sleeping.
 */
const T0 = Date.UTC(2026, 0, 1);
const burst = (from: number, n: number): Reading[] => Array.from({ length: n }, (_, i) => ({ series: 'dev1/temp', ts: T0 + (from + i) * 1000, value: (from + i) / 10 }));

/** Lets microtasks and setImmediate callbacks run (the link's events, the uplink's pump). */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

/** A far end that commits batches into a map keyed by (epoch, seq) and acks, unless told otherwise. */
class FakeCloud {
  readonly rows = new Map<string, number>();
  mode: 'ack' | 'silent' | 'hold' = 'ack';
  held: Buffer[] = [];
  answer = (msg: LinkMessage): Buffer | null => {
    if (!msg.topic.endsWith('/batch')) return null;
    const b = decodeBatch(msg.payload);
    if (this.mode === 'silent') return null;
    for (const r of b.readings) this.rows.set(`${b.epoch}/${r.seq}`, (this.rows.get(`${b.epoch}/${r.seq}`) ?? 0) + 1);
    const ack = encodeAck({ v: 1, ok: true, epoch: b.epoch, firstSeq: b.firstSeq, lastSeq: b.lastSeq, stored: b.readings.length, duplicates: 0 });
    if (this.mode === 'hold') {
      this.held.push(ack);
      return null;
    }
    return ack;
  };
}

function rig(opts: Partial<UplinkOptions> = {}) {
  const clock = new ManualClock(T0);
  const log = new MemoryReadingLog();
  const cloud = new FakeCloud();
  const link = new MemoryUplinkLink(cloud.answer);
  const uplink = new Uplink({ gatewayId: 'gw-a', log, url: 'mqtt://memory:1', clock, link, random: () => 0, backoffMinMs: 1000, backoffMaxMs: 8000, batchReadings: 100, ...opts });
  return { clock, log, cloud, link, uplink };
}

describe('uplink on a ManualClock and the in-memory link', () => {
  it('backs off 500, 1000, 2000, 4000, 4000 ms (jitter pinned low) and drains the moment the link is back', async () => {
    const { clock, log, link, uplink } = rig();
    link.reachable = false;
    log.append(burst(0, 250));
    uplink.start();
    await flush();
    expect(uplink.stats().state).toBe('waiting');
    const opensAt: number[] = [];
    for (const step of [500, 1000, 2000, 4000, 4000]) {
      clock.advance(step - 1);
      await flush();
      opensAt.push(link.opens);
      clock.advance(1);
      await flush();
    }
    expect(opensAt).toEqual([1, 2, 3, 4, 5]);
    expect(link.opens).toBe(6);
    link.reachable = true;
    clock.advance(4000);
    await flush();
    // No further clock movement: the drain started on `up`, not on a timer.
    expect(log.ackWatermark()).toBe(250);
    expect(uplink.stats()).toMatchObject({ state: 'online', connects: 1, batchesAcked: 3 });
    await uplink.stop();
  });

  it('moves the watermark only when the cloud acks, not on PUBACK', async () => {
    const { log, cloud, link, uplink } = rig({ maxInFlight: 4 });
    cloud.mode = 'hold';
    log.append(burst(0, 1000));
    uplink.start();
    await flush();
    expect(link.on('fm/g/gw-a/batch')).toHaveLength(4);
    expect(log.ackWatermark()).toBe(0);
    // Acks out of order: the watermark waits for the oldest batch.
    const [a, b, c, d] = cloud.held.splice(0);
    const session = link as unknown as { live: { events: { ack(p: Buffer): void } } };
    for (const ack of [c!, b!]) session.live.events.ack(ack);
    await flush();
    expect(log.ackWatermark()).toBe(0);
    session.live.events.ack(a!);
    await flush();
    expect(log.ackWatermark()).toBe(300);
    session.live.events.ack(d!);
    await flush();
    expect(log.ackWatermark()).toBe(400);
    await uplink.stop();
  });

  it('resends a batch nobody acks after ackTimeoutMs, and never quarantines for silence', async () => {
    const { clock, log, cloud, link, uplink } = rig({ ackTimeoutMs: 10_000, maxRefusals: 2 });
    cloud.mode = 'silent';
    log.append(burst(0, 50));
    uplink.start();
    await flush();
    expect(link.on('fm/g/gw-a/batch')).toHaveLength(1);
    for (let i = 0; i < 5; i++) {
      clock.advance(10_000);
      await flush();
    }
    expect(link.on('fm/g/gw-a/batch')).toHaveLength(6);
    expect(uplink.stats()).toMatchObject({ batchesTimedOut: 5, batchesQuarantined: 0 });
    cloud.mode = 'ack';
    clock.advance(10_000);
    await flush();
    expect(log.ackWatermark()).toBe(50);
    await uplink.stop();
  });

  it('a link cut mid-drain resends from the watermark; the cloud sees every reading, dupes allowed only for unacked ones', async () => {
    const { clock, log, cloud, link, uplink } = rig({ maxInFlight: 2 });
    log.append(burst(0, 2000));
    cloud.mode = 'hold';
    uplink.start();
    await flush();
    const session = link as unknown as { live: { events: { ack(p: Buffer): void } } };
    session.live.events.ack(cloud.held.shift()!);
    await flush();
    expect(log.ackWatermark()).toBe(100);
    link.cut();
    await flush();
    expect(uplink.stats().state).toBe('waiting');
    cloud.mode = 'ack';
    clock.advance(1000);
    await flush();
    expect(log.ackWatermark()).toBe(2000);
    expect(cloud.rows.size).toBe(2000);
    // Only the batches in flight at the cut (seq 101..300) went twice.
    const twice = [...cloud.rows].filter(([, n]) => n > 1).map(([k]) => Number(k.split('/')[1]));
    expect(Math.min(...twice)).toBe(101);
    expect(Math.max(...twice)).toBe(300);
    await uplink.stop();
  });

  it('a cloud that refuses everything gets slower retries and no quarantine: not the readings\' fault', async () => {
    const clock = new ManualClock(T0);
    const log = new MemoryReadingLog();
    let nacks = 0;
    const link = new MemoryUplinkLink((msg) => {
      if (!msg.topic.endsWith('/batch')) return null;
      const b = decodeBatch(msg.payload);
      nacks++;
      return encodeAck({ v: 1, ok: false, epoch: b.epoch, firstSeq: b.firstSeq, lastSeq: b.lastSeq, code: 'FM_ERR_CLOUD_STORE_BUG', reason: 'deploy gone wrong' });
    });
    const uplink = new Uplink({ gatewayId: 'gw-a', log, url: 'mqtt://memory:1', clock, link, batchReadings: 8, maxInFlight: 2, maxRefusals: 2, backoffMinMs: 1000, backoffMaxMs: 8000 });
    log.append(burst(0, 16));
    uplink.start();
    await flush();
    expect(nacks).toBe(2);
    for (let i = 0; i < 40; i++) {
      clock.advance(1000);
      await flush();
    }
    // 40 s of refusals: retries spaced out (1, 2, 4, 8, 8… s per batch), splitting bounded by the window.
    expect(nacks).toBeLessThan(40);
    expect(uplink.stats()).toMatchObject({ batchesQuarantined: 0, readingsQuarantined: 0 });
    expect(log.ackWatermark()).toBe(0);
    expect(uplink.stats().inFlight).toBeLessThanOrEqual(4);
    await uplink.stop();
  });

  it('survives a failing log: logs, retries after 1 s, then drains', async () => {
    const { clock, log, link, uplink } = rig();
    log.append(burst(0, 30));
    const readAfter = log.readAfter.bind(log);
    let failures = 2;
    log.readAfter = (after, limit) => {
      if (failures-- > 0) throw new Error('SQLITE_IOERR (simulated)');
      return readAfter(after, limit);
    };
    uplink.start();
    await flush();
    expect(uplink.stats().state).toBe('online');
    expect(log.ackWatermark()).toBe(0);
    clock.advance(1000);
    await flush();
    expect(log.ackWatermark()).toBe(0);
    clock.advance(1000);
    await flush();
    expect(log.ackWatermark()).toBe(30);
    expect(link.on('fm/g/gw-a/batch')).toHaveLength(1);
    await uplink.stop();
  });

  it('publishes a retained online status on connect, with a retained offline will, and offline on stop', async () => {
    const { clock, log, link, uplink } = rig({ statusIntervalMs: 5000, status: () => ({ members: 2 }) });
    log.append(burst(0, 10));
    uplink.start();
    await flush();
    expect(link.lastOpen!.will).toMatchObject({ topic: 'fm/g/gw-a/status', retain: true });
    expect(JSON.parse(link.lastOpen!.will.payload.toString())).toMatchObject({ v: 1, online: false, epoch: log.epoch });
    clock.advance(5000);
    await flush();
    const statuses = link.on('fm/g/gw-a/status');
    expect(statuses).toHaveLength(2);
    expect(statuses.every((m) => m.retain)).toBe(true);
    expect(JSON.parse(statuses[1]!.payload.toString())).toMatchObject({ v: 1, online: true, members: 2, backlog: 0, ackedSeq: 10, epoch: log.epoch });
    await uplink.stop();
    expect(JSON.parse(link.on('fm/g/gw-a/status').at(-1)!.payload.toString())).toMatchObject({ online: false });
  });
});
