import { describe, expect, it } from 'vitest';
import { ManualClock, type Reading } from '@fieldmesh/device-sdk';
import { MemoryAlertLog } from '#gateway/alerts/memory-log';
import type { RuleTransition } from '#gateway/alerts/transition';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import type { LoggedReading } from '#gateway/store/reading-log';
import { decodeBatch, encodeAck } from '@fieldmesh/protocol';
import { ByteRateCap } from '#gateway/uplink/byte-rate-cap';
import { DrainMeter } from '#gateway/uplink/drain-meter';
import { MemoryUplinkLink, type LinkMessage } from '#gateway/uplink/memory-uplink-link';
import { SendWindow } from '#gateway/uplink/send-window';
import { StateSeries } from '#gateway/uplink/state-compaction';
import { Uplink, type UplinkOptions } from '#gateway/uplink/uplink';

/** Lanes (alerts ahead of bulk, state compaction, weighted share) and the adaptive drain, on a ManualClock. */
const T0 = Date.UTC(2026, 0, 1);
const burst = (from: number, n: number, series = 'dev1/temp'): Reading[] => Array.from({ length: n }, (_, i) => ({ series, ts: T0 + (from + i) * 1000, value: (from + i) / 10 }));
const noise = (n: number): Reading[] => Array.from({ length: n }, (_, i) => ({ series: 'dev1/noise', ts: T0 + i * 1000, value: Math.sin(i * 1.7) * 1000 }));
const alarm = (i: number): RuleTransition => ({ type: 'raised', ruleId: `hot-${i}`, series: 'boiler/temp', severity: 'critical', condition: 'high', value: 90 + i, ts: T0 + i, reason: `value > 80 (${i})` });

async function flush(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/**
 * A far end that stores bulk rows and alert events and acks, recording the arrival order. In
 * `hold` mode bulk acks are queued and released by `release(n)` (a slow cloud), alerts still
 * answered at once; `silent` answers nothing.
 */
class FakeCloud {
  readonly rows = new Set<number>();
  readonly alerts: number[] = [];
  /** Arrival log: 'b' per bulk batch, 'a' per alert message. */
  readonly order: string[] = [];
  mode: 'ack' | 'hold' | 'silent' = 'ack';
  /** An alerts message starting at this seq is refused (a poison event). */
  refuseAlertSeq: number | null = null;
  alertRefusals = 0;
  readonly held: Array<{ ack: Buffer; seqs: number[] }> = [];
  send: ((b: Buffer) => void) | null = null;
  answer = (msg: LinkMessage): Buffer | null => {
    if (this.mode === 'silent') return null;
    if (msg.topic.endsWith('/alerts')) {
      const m = JSON.parse(msg.payload.toString()) as { epoch: string; events: Array<{ seq: number }> };
      this.order.push('a');
      for (const e of m.events) if (!this.alerts.includes(e.seq)) this.alerts.push(e.seq);
      const first = m.events[0]!.seq;
      const last = m.events.at(-1)!.seq;
      if (first === this.refuseAlertSeq) {
        this.alertRefusals++;
        return encodeAck({ v: 1, ok: false, lane: 'alerts', epoch: m.epoch, firstSeq: first, lastSeq: last, code: 'FM_ERR_CLOUD_ALERTS', reason: 'poison' });
      }
      return encodeAck({ v: 1, ok: true, lane: 'alerts', epoch: m.epoch, firstSeq: first, lastSeq: last, stored: m.events.length, duplicates: 0 });
    }
    if (!msg.topic.endsWith('/batch')) return null;
    const b = decodeBatch(msg.payload);
    this.order.push('b');
    const ack = encodeAck({ v: 1, ok: true, epoch: b.epoch, firstSeq: b.firstSeq, lastSeq: b.lastSeq, stored: b.readings.length, duplicates: 0 });
    const seqs = b.readings.map((r) => r.seq);
    if (this.mode === 'hold') {
      this.held.push({ ack, seqs });
      return null;
    }
    for (const s of seqs) this.rows.add(s);
    return ack;
  };
}

function rig(opts: Partial<UplinkOptions> = {}) {
  const clock = new ManualClock(T0);
  const log = new MemoryReadingLog();
  const alerts = new MemoryAlertLog();
  const cloud = new FakeCloud();
  const link = new MemoryUplinkLink(cloud.answer);
  const uplink = new Uplink({ gatewayId: 'gw-a', log, alerts, url: 'mqtt://memory:1', clock, link, random: () => 0, batchReadings: 1000, ...opts });
  return { clock, log, alerts, cloud, link, uplink };
}

describe('lanes', () => {
  it('with a bulk backlog of 100k readings, a raised alert reaches the cloud before the backlog drains, and bulk still progresses while alerts stream', async () => {
    // A byte cap makes the link the bottleneck, so the order is the uplink's choice, not luck.
    const { clock, log, alerts, cloud, uplink } = rig({ maxBytesPerSecond: 20_000 });
    log.append(noise(100_000));
    uplink.start();
    await flush();
    expect(cloud.order[0]).toBe('b');
    clock.advance(1000);
    await flush();
    alerts.append(alarm(1), 'gw-a');
    await flush();
    // No clock movement needed beyond the cap's debt: the alert is next on the wire.
    for (let i = 0; i < 20 && cloud.alerts.length === 0; i++) {
      clock.advance(100);
      await flush();
    }
    expect(cloud.alerts).toEqual([1]);
    expect(log.ackWatermark()).toBeLessThan(100_000);
    expect(alerts.upstreamCursor()).toBe(1);

    // An alert storm: a new alert every 50 ms for 20 s. Bulk must keep moving (the weighted share).
    const before = log.ackWatermark();
    for (let i = 2; i <= 400; i++) {
      expect(log.ackWatermark()).toBeLessThan(100_000);
      alerts.append(alarm(i), 'gw-a');
      clock.advance(50);
      await flush(4);
    }
    await flush();
    const bulkDuring = cloud.order.slice(cloud.order.indexOf('a')).filter((x) => x === 'b').length;
    expect(bulkDuring).toBeGreaterThanOrEqual(3);
    expect(log.ackWatermark()).toBeGreaterThan(before);
    // And the alerts kept flowing: nearly all are up within the storm, none out of order.
    expect(cloud.alerts.length).toBeGreaterThan(350);
    expect(cloud.alerts).toEqual([...cloud.alerts].sort((a, b) => a - b));
    // No priority run longer than the share (4) while bulk had a backlog.
    let run = 0;
    for (const x of cloud.order) {
      run = x === 'a' ? run + 1 : 0;
      expect(run).toBeLessThanOrEqual(4);
    }
    await uplink.stop();
  });

  it('alerts raised while the link is down go first on reconnect, and the cloud ack moves the outbox cursor', async () => {
    const { clock, log, alerts, cloud, link, uplink } = rig();
    link.reachable = false;
    log.append(burst(0, 5000));
    uplink.start();
    await flush();
    alerts.append(alarm(1), 'gw-a');
    alerts.append(alarm(2), 'gw-a');
    expect(alerts.pendingUpstreamCount()).toBe(2);
    link.reachable = true;
    clock.advance(10_000);
    await flush(30);
    expect(cloud.order[0]).toBe('a');
    expect(cloud.alerts).toEqual([1, 2]);
    expect(alerts.upstreamCursor()).toBe(2);
    expect(alerts.pendingUpstreamCount()).toBe(0);
    expect(log.ackWatermark()).toBe(5000);
    expect(uplink.stats()).toMatchObject({ alertsSent: 2, alertsAcked: 2, alertsPending: 0 });
    await uplink.stop();
  });

  it('an unanswered alert message is resent after the ack timeout; the cursor waits for the ack', async () => {
    const { clock, alerts, cloud, link, uplink } = rig({ ackTimeoutMs: 5000 });
    cloud.mode = 'silent';
    uplink.start();
    await flush();
    alerts.append(alarm(1), 'gw-a');
    await flush();
    expect(link.on('fm/g/gw-a/alerts')).toHaveLength(1);
    clock.advance(5000);
    await flush();
    expect(link.on('fm/g/gw-a/alerts')).toHaveLength(2);
    expect(alerts.upstreamCursor()).toBe(0);
    cloud.mode = 'ack';
    clock.advance(5000);
    await flush();
    expect(alerts.upstreamCursor()).toBe(1);
    await uplink.stop();
  });

  it('an alerts message the cloud keeps refusing is retried with growing delay, then skipped and counted; later alerts go', async () => {
    const { clock, log, alerts, cloud, uplink } = rig({ maxRefusals: 3, backoffMinMs: 1000, backoffMaxMs: 4000 });
    cloud.refuseAlertSeq = 1;
    const refusals = () => cloud.alertRefusals;
    log.append(burst(0, 10));
    alerts.append(alarm(1), 'gw-a');
    uplink.start();
    await flush();
    expect(refusals()).toBe(1);
    clock.advance(1000);
    await flush();
    expect(refusals()).toBe(2);
    clock.advance(2000);
    await flush();
    expect(refusals()).toBe(3);
    expect(uplink.stats()).toMatchObject({ alertsSkipped: 1, alertsPending: 0, batchesRefused: 3 });
    expect(alerts.upstreamCursor()).toBe(1);
    alerts.append(alarm(2), 'gw-a');
    await flush();
    expect(alerts.upstreamCursor()).toBe(2);
    expect(uplink.stats().alertsAcked).toBe(1);
    await uplink.stop();
  });

  it('state series send only their newest value per read; the watermark covers the compacted ones', async () => {
    const { log, cloud, uplink } = rig({ stateSeries: ['relay1/*', '*/mode'], batchReadings: 10_000 });
    const rs: Reading[] = [];
    for (let i = 0; i < 3000; i++) {
      rs.push({ series: 'dev1/temp', ts: T0 + i, value: i });
      rs.push({ series: 'relay1/pos', ts: T0 + i, value: i % 2 === 0 });
      rs.push({ series: 'hvac/mode', ts: T0 + i, value: `m${i}` });
    }
    log.append(rs);
    uplink.start();
    await flush(30);
    expect(log.ackWatermark()).toBe(9000);
    expect(cloud.rows.size).toBe(3002);
    // The kept ones are the newest of each state series.
    expect(cloud.rows.has(8999)).toBe(true);
    expect(cloud.rows.has(9000)).toBe(true);
    expect(uplink.stats().readingsCompacted).toBe(5998);
    await uplink.stop();
  });

  it('compacts a state series over the whole backlog once commits are observed, always keeping the last reading of a read', () => {
    const s = new StateSeries(['*/state']);
    const r = (seq: number, series: string): LoggedReading => ({ seq, series, ts: seq, value: seq });
    // Committed: door/state at seqs 1, 3 and 10; other series in between.
    s.observe(1, [{ series: 'door/state', ts: 1, value: 1 }, { series: 'door/t', ts: 2, value: 2 }, { series: 'door/state', ts: 3, value: 3 }]);
    s.observe(10, [{ series: 'door/state', ts: 10, value: 10 }]);
    // A first read of 1..4 (the newer value at seq 10 lies beyond it) sends no door/state at all
    // but keeps the read's last reading so the send position moves.
    expect(s.compact([r(1, 'door/state'), r(2, 'door/t'), r(3, 'door/state'), r(4, 'door/t')]).map((x) => x.seq)).toEqual([2, 4]);
    expect(s.compact([r(1, 'door/state'), r(2, 'door/t'), r(3, 'door/state')]).map((x) => x.seq)).toEqual([2, 3]);
    // The read that holds the newest value sends it.
    expect(s.compact([r(9, 'door/t'), r(10, 'door/state')]).map((x) => x.seq)).toEqual([9, 10]);
    // Without observed commits (after a restart) compaction falls back to within the read.
    const fresh = new StateSeries(['*/state']);
    expect(fresh.compact([r(1, 'door/state'), r(2, 'door/t'), r(3, 'door/state'), r(4, 'door/t')]).map((x) => x.seq)).toEqual([2, 3, 4]);
  });

  it('state series patterns: one level per *, bad patterns refused at construction', () => {
    const s = new StateSeries(['*/state', 'relay1/*']);
    expect(s.matches('door/state')).toBe(true);
    expect(s.matches('relay1/x')).toBe(true);
    expect(s.matches('door/temp')).toBe(false);
    expect(() => rig({ stateSeries: ['a/b/c'] })).toThrow(/stateSeries/);
    expect(() => rig({ stateSeries: ['nolevel'] })).toThrow(/stateSeries/);
  });
});

describe('drain', () => {
  it('AIMD: +1 batch per acked window up to the ceiling, halved once per loss event', () => {
    const w = new SendWindow(16);
    expect(w.limit).toBe(4);
    for (let i = 0; i < 4; i++) w.acked(1);
    expect(w.limit).toBe(4); // 4 + 4 × 1/cwnd (cwnd grows as it goes): just under 5
    w.acked(1);
    expect(w.limit).toBe(5);
    for (let i = 0; i < 200; i++) w.acked(1);
    expect(w.limit).toBe(16);
    w.lost();
    w.lost(); // same event: no second halving without an ack in between
    expect(w.limit).toBe(8);
    w.acked(1);
    w.lost();
    expect(w.limit).toBe(4);
    for (let i = 0; i < 10; i++) {
      w.acked(1);
      w.lost();
    }
    expect(w.limit).toBe(1);
  });

  it('the window grows on a healthy link and halves on ack timeouts', async () => {
    const { clock, log, cloud, uplink } = rig({ maxInFlight: 32, batchReadings: 100, ackTimeoutMs: 5000 });
    log.append(burst(0, 20_000));
    uplink.start();
    await flush(60);
    expect(uplink.stats().sendWindow).toBeGreaterThan(16);
    const grown = uplink.stats().sendWindow;
    cloud.mode = 'silent';
    log.append(burst(20_000, 5000));
    uplink.notify();
    await flush();
    clock.advance(5000);
    await flush();
    expect(uplink.stats().sendWindow).toBeLessThanOrEqual(Math.floor(grown / 2));
    expect(uplink.stats().windowDecreases).toBe(1);
    await uplink.stop();
  });

  it('a reconnect halves the window; the drain resumes from the watermark at once', async () => {
    const { clock, log, link, uplink } = rig({ maxInFlight: 32, batchReadings: 100, backoffMinMs: 1000, backoffMaxMs: 1000 });
    log.append(burst(0, 20_000));
    uplink.start();
    await flush(60);
    const grown = uplink.stats().sendWindow;
    expect(grown).toBeGreaterThan(8);
    link.cut();
    await flush();
    expect(uplink.stats().state).toBe('waiting');
    log.append(burst(20_000, 1000));
    clock.advance(1000);
    await flush(30);
    expect(uplink.stats()).toMatchObject({ state: 'online', connects: 2 });
    expect(uplink.stats().windowDecreases).toBe(1);
    expect(uplink.stats().sendWindow).toBeLessThan(grown);
    expect(log.ackWatermark()).toBe(21_000);
    await uplink.stop();
  });

  it('holds the bytes-per-second cap on the injected clock', async () => {
    const { clock, log, link, uplink } = rig({ maxBytesPerSecond: 5000, batchReadings: 200 });
    // Incompressible-ish values so batches are not tiny.
    log.append(noise(60_000));
    uplink.start();
    await flush();
    const bytes = () => link.on('fm/g/gw-a/batch').reduce((n, m) => n + m.payload.length, 0);
    const b0 = bytes();
    for (let s = 0; s < 600; s++) {
      clock.advance(100);
      await flush(4);
    }
    const rate = (bytes() - b0) / 60;
    expect(rate).toBeLessThanOrEqual(5000 * 1.05);
    expect(rate).toBeGreaterThan(5000 * 0.8);
    expect(log.ackWatermark()).toBeLessThan(60_000);
    await uplink.stop();
  });

  it('token bucket: a batch larger than the bucket goes, and its debt is paid before the next', () => {
    const clock = new ManualClock(T0);
    const cap = new ByteRateCap(clock, 1000);
    expect(cap.waitMs()).toBe(0);
    cap.spend(3000);
    expect(cap.waitMs()).toBe(2000);
    clock.advance(2000);
    expect(cap.waitMs()).toBe(0);
  });

  it('status shows the drain rate over a sliding window and an ETA for the backlog', async () => {
    const clock = new ManualClock(T0);
    const m = new DrainMeter(clock, 10_000);
    expect(m.etaSeconds(100)).toBeNull();
    for (let s = 0; s < 10; s++) {
      m.record(500);
      clock.advance(1000);
    }
    // The oldest slot of the window has just rolled out: between 9 and 10 slots' worth.
    expect(m.rate()).toBeGreaterThanOrEqual(450);
    expect(m.rate()).toBeLessThanOrEqual(500);
    expect(m.etaSeconds(5000)).toBeGreaterThanOrEqual(10);
    expect(m.etaSeconds(5000)).toBeLessThanOrEqual(12);
    clock.advance(20_000);
    expect(m.rate()).toBe(0);

    const r = rig({ maxBytesPerSecond: 4000, batchReadings: 200 });
    r.log.append(noise(20_000));
    r.uplink.start();
    for (let s = 0; s < 300; s++) {
      r.clock.advance(100);
      await flush(4);
    }
    const st = r.uplink.stats();
    expect(st.drainRate).toBeGreaterThan(0);
    expect(st.etaSeconds).not.toBeNull();
    // ETA agrees with backlog / rate.
    expect(Math.abs(st.etaSeconds! - st.backlog / st.drainRate)).toBeLessThan(2);
    await r.uplink.stop();
  });
});
