import { afterEach, describe, expect, it } from 'vitest';
import type { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { MemoryCloudStore } from '#cloud-bridge/store/memory-cloud-store';
import { decimatedReadings } from '#cloud-bridge/http/reading-decimation';
import type { WireReading } from '@fieldmesh/protocol';
import { labConfig, startCloud, tempDir } from '../cloud-fixture.js';

type Row = { ts: number; value: number | string; seq: number; series: string };

describe('/api/readings?step= (server-side min/max decimation)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it('keeps first, lowest, highest and last reading of every bucket: spikes survive, at most 4 points a bucket', async () => {
    const tmp = tempDir('fm-step-');
    cleanups.push(tmp.cleanup);
    const cloud: CloudBridge = await startCloud(labConfig(tmp.dir));
    cleanups.push(() => cloud.stop());
    const t0 = 1_767_225_600_000;
    // 30,000 readings a second apart (over three store pages), a smooth wave with one spike and one dip.
    const n = 30_000;
    const readings: WireReading[] = Array.from({ length: n }, (_, i) => ({ seq: i + 1, series: 'dev/temp', ts: t0 + i * 1000, value: i === 12_345 ? 500 : i === 23_456 ? -500 : Math.sin(i / 300) }));
    await cloud.store.commitBatch('gw-a', 'e1', readings, Date.now());
    await cloud.store.commitBatch('gw-a', 'e1', [{ seq: n + 1, series: 'dev/other', ts: t0, value: 1 }], Date.now());
    const from = t0;
    const to = t0 + n * 1000;
    const step = 60_000; // 500 buckets of 60 readings
    const url = `http://127.0.0.1:${cloud.httpPort}/api/readings?gateway=gw-a&series=dev/temp&from=${from}&to=${to}&step=${step}`;
    const body = (await (await fetch(url, { headers: { authorization: `Bearer ${cloud.live.issuedToken}` } })).json()) as { readings: Row[]; step: number; scanned: number; truncated: boolean };
    expect(body).toMatchObject({ step, scanned: n, truncated: false });
    const byBucket = new Map<number, Row[]>();
    for (const r of body.readings) {
      const b = Math.floor((r.ts - from) / step);
      byBucket.set(b, [...(byBucket.get(b) ?? []), r]);
    }
    expect(byBucket.size).toBe(500);
    for (const [b, rows] of byBucket) {
      expect(rows.length, `bucket ${b}`).toBeLessThanOrEqual(4);
      const all = readings.slice(b * 60, b * 60 + 60);
      const values = all.map((r) => r.value as number);
      expect(rows[0]!.seq).toBe(all[0]!.seq);
      expect(rows.at(-1)!.seq).toBe(all.at(-1)!.seq);
      expect(Math.min(...rows.map((r) => r.value as number))).toBe(Math.min(...values));
      expect(Math.max(...rows.map((r) => r.value as number))).toBe(Math.max(...values));
    }
    expect(body.readings.some((r) => r.value === 500)).toBe(true);
    expect(body.readings.some((r) => r.value === -500)).toBe(true);
    // Oldest first, only the asked series.
    expect(body.readings.map((r) => r.ts)).toEqual([...body.readings.map((r) => r.ts)].sort((a, b) => a - b));
    expect(new Set(body.readings.map((r) => r.series))).toEqual(new Set(['dev/temp']));

    for (const [bad, why] of [
      [`gateway=gw-a&series=dev/temp&step=1000`, 'step needs gateway, series, from and to'],
      [`gateway=gw-a&series=dev/temp&from=${from}&to=${to}&step=1`, 'buckets'],
      [`gateway=gw-a&series=dev/temp&from=${from}&to=${to}&step=0`, 'step must be'],
      [`gateway=gw-a&series=dev/temp&from=${from}&to=${to}&step=x`, 'step must be an integer'],
    ] as const) {
      const r = await fetch(`http://127.0.0.1:${cloud.httpPort}/api/readings?${bad}`, { headers: { authorization: `Bearer ${cloud.live.issuedToken}` } });
      expect(r.status, bad).toBe(400);
      expect(((await r.json()) as { error: string }).error).toContain(why);
    }
  });

  it('text values keep first and last; a scan past the bound says truncated (in-memory store)', async () => {
    const store = new MemoryCloudStore();
    const t0 = 1_000_000;
    await store.commitBatch('gw', 'e', ['a', 'b', 'c', 'd'].map((value, i) => ({ seq: i + 1, series: 'd/s', ts: t0 + i, value })), 0);
    const d = await decimatedReadings(store, { gateway: 'gw', series: 'd/s', from: t0, to: t0 + 10, limit: 1000 }, 10);
    expect(d.readings.map((r) => r.value)).toEqual(['a', 'd']);
    expect(d.truncated).toBe(false);
    await store.commitBatch('gw', 'e', Array.from({ length: 25_000 }, (_, i) => ({ seq: i + 10, series: 'd/n', ts: t0 + i, value: i })), 0);
    const cut = await decimatedReadings(store, { gateway: 'gw', series: 'd/n', from: t0, to: t0 + 25_000, limit: 1000 }, 1000, 10_000);
    expect(cut.truncated).toBe(true);
    expect(cut.scanned).toBeGreaterThanOrEqual(10_000);
    expect(cut.scanned).toBeLessThan(25_000);
    expect(cut.readings.at(-1)!.ts).toBe(t0 + cut.scanned - 1);
  });

  it('reads a page\'s worth of time at a time, and more than a page of readings at one instant, without losing or repeating one', async () => {
    const store = new MemoryCloudStore();
    const t0 = 5_000_000;
    // 25,000 readings at one ms, then a sparse tail over a long time.
    const burst = Array.from({ length: 25_000 }, (_, i) => ({ seq: i + 1, series: 'd/s', ts: t0, value: i === 17_000 ? 1e6 : i }));
    const tail = Array.from({ length: 100 }, (_, i) => ({ seq: 25_001 + i, series: 'd/s', ts: t0 + (i + 1) * 3_600_000, value: -(i + 1) }));
    await store.commitBatch('gw', 'e', [...burst, ...tail], 0);
    const calls: number[] = [];
    const counted = new Proxy(store, { get: (o, k) => (k === 'readings' ? (q: Parameters<MemoryCloudStore['readings']>[0]) => (calls.push(q.to! - q.from!), o.readings(q)) : Reflect.get(o, k)) });
    const d = await decimatedReadings(counted, { gateway: 'gw', series: 'd/s', from: t0, to: t0 + 101 * 3_600_000, limit: 1000 }, 3_600_000);
    expect(d).toMatchObject({ scanned: 25_100, truncated: false });
    const first = d.readings.filter((r) => r.ts === t0);
    expect(new Set(first.map((r) => r.value))).toEqual(new Set([0, 1e6, 24_999]));
    expect(d.readings.filter((r) => r.ts > t0).map((r) => r.value)).toEqual(tail.map((r) => r.value));
    expect(calls.length).toBeLessThan(40);
  });
});
