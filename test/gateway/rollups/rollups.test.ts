import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '#device-sdk/clock';
import type { Reading } from '#device-sdk/reading';
import type { Bucket } from '#gateway/rollups/bucket';
import { TIERS, validateRollupsConfig, type TierName } from '#gateway/rollups/config';
import { MemoryRollupStore } from '#gateway/rollups/memory-store';
import { Rollups } from '#gateway/rollups/rollups';
import { SqliteRollupStore } from '#gateway/rollups/sqlite-store';
import type { RollupStore } from '#gateway/rollups/store';

const dir = mkdtempSync(join(tmpdir(), 'fm-rollups-'));
const dbs: Database.Database[] = [];
afterAll(() => {
  for (const db of dbs) db.close();
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;
const T0 = Date.UTC(2026, 0, 1);

const stores: Array<[string, () => RollupStore]> = [
  ['memory', () => new MemoryRollupStore()],
  [
    'sqlite',
    () => {
      const db = new Database(join(dir, `r${++n}.db`));
      db.pragma('journal_mode = WAL');
      dbs.push(db);
      return new SqliteRollupStore(db);
    },
  ],
];

/** The obvious, slow way: group every reading by bucket, aggregate from scratch. */
function bruteForce(readings: Reading[], tier: TierName): Bucket[] {
  const width = TIERS[tier].widthMs;
  const groups = new Map<string, Bucket>();
  readings.forEach((r) => {
    const v = typeof r.value === 'boolean' ? (r.value ? 1 : 0) : r.value;
    if (typeof v !== 'number' || !Number.isFinite(v)) return;
    const bucket = Math.floor(r.ts / width) * width;
    const key = `${r.series} ${bucket}`;
    const g = groups.get(key) ?? { series: r.series, bucket, min: Infinity, max: -Infinity, sum: 0, count: 0, last: NaN, lastTs: -Infinity };
    g.min = Math.min(g.min, v);
    g.max = Math.max(g.max, v);
    g.sum += v;
    g.count++;
    if (r.ts >= g.lastTs) [g.last, g.lastTs] = [v, r.ts];
    groups.set(key, g);
  });
  return [...groups.values()].sort((a, b) => (a.series === b.series ? a.bucket - b.bucket : a.series < b.series ? -1 : 1));
}

function stored(store: RollupStore, tier: TierName, series: string[]): Bucket[] {
  return series.sort().flatMap((s) => store.range(tier, s, -1e15, 1e15));
}

// Values are multiples of 1/4 in a small range, so sums are exact in binary floating point and
// the comparison can be exact whatever the order of additions.
const value = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: -4000, max: 4000 }).map((i) => i / 4) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constantFrom('on', 'off', Number.NaN, Number.POSITIVE_INFINITY) },
);
// Mostly moving forward with jitter, sometimes jumping back up to 2 h (late readings, resends).
const step = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 90_000 }) },
  { weight: 2, arbitrary: fc.integer({ min: -7_200_000, max: 0 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 5_400_000 }) },
);
const event = fc.oneof(
  { weight: 20, arbitrary: fc.record({ series: fc.constantFrom('a/t', 'a/h', 'b/t'), step, value }) },
  { weight: 1, arbitrary: fc.constant('flush' as const) },
);

describe.each(stores)('rollups over %s store', (_name, makeStore) => {
  it('equal a brute-force recomputation on random data with late readings and flushes anywhere', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 400 }), (events) => {
        const store = makeStore();
        // Every reading is newer than now - 14 d (the minute retention), so none is too old.
        const clock = new ManualClock(T0 + 13 * 86_400_000);
        const rollups = new Rollups({ store, clock, config: { flushInterval: 0 } });
        const fed: Reading[] = [];
        let ts = T0 + 10 * 3_600_000;
        for (const e of events) {
          if (e === 'flush') {
            rollups.flush();
            continue;
          }
          ts = Math.max(T0, ts + e.step);
          const r: Reading = { series: e.series, ts, value: e.value };
          fed.push(r);
          rollups.add([r]);
        }
        const names = ['a/h', 'a/t', 'b/t'];
        // Queries see stored rows merged with what is still in memory, without a flush…
        for (const tier of ['minute', 'hour'] as const) {
          expect(names.flatMap((s) => rollups.range(tier, s, -1e15, 1e15))).toEqual(bruteForce(fed, tier));
        }
        // …and after the flush the store alone holds the same.
        rollups.flush();
        for (const tier of ['minute', 'hour'] as const) {
          expect(stored(store, tier, names)).toEqual(bruteForce(fed, tier));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('keeps the latest value per series (greatest time, later arrival on ties), of any type', () => {
    const store = makeStore();
    const rollups = new Rollups({ store, clock: new ManualClock(T0), config: { flushInterval: 0 } });
    rollups.add([
      { series: 'a/t', ts: T0 + 5, value: 1, unit: 'Cel' },
      { series: 'a/t', ts: T0 + 3, value: 2 },
      { series: 'a/t', ts: T0 + 5, value: 3, unit: 'Cel' },
      { series: 'd/open', ts: T0, value: true },
      { series: 'd/name', ts: T0, value: 'pump' },
    ]);
    rollups.flush();
    const want = [
      { series: 'a/t', ts: T0 + 5, value: 3, unit: 'Cel' },
      { series: 'd/name', ts: T0, value: 'pump' },
      { series: 'd/open', ts: T0, value: true },
    ];
    expect(rollups.latest()).toEqual(want);
    expect(store.latest()).toEqual(want);
    // A new Rollups over the same store starts from the stored latest values.
    expect(new Rollups({ store, clock: new ManualClock(T0) }).latest()).toEqual(want);
  });

  it('purges buckets past each tier retention; readings older than retention are counted, not rolled up', () => {
    const store = makeStore();
    const clock = new ManualClock(T0 + 10 * 86_400_000);
    const rollups = new Rollups({ store, clock, config: { minute: { retention: '1d' }, hour: { retention: '5d' }, flushInterval: 0 } });
    const day = 86_400_000;
    rollups.add([
      // 7 d old but the first of its series (opens the buckets): rolled up, then purged from both.
      { series: 'a/t', ts: T0 + 3 * day, value: 1 },
      { series: 'a/t', ts: T0 + 8 * day, value: 2 }, // 2 d old: purged from minute, kept in hour
      { series: 'a/t', ts: T0 + 10 * day - 60_000, value: 3 },
      { series: 'a/t', ts: T0 + 3 * day, value: 9 }, // late AND beyond both retentions: skipped twice
    ]);
    expect(rollups.stats()).toMatchObject({ skippedTooOld: 2, lateReadings: 0 });
    rollups.flush();
    expect(rollups.purge()).toBe(3);
    expect(store.range('minute', 'a/t', 0, 1e15).map((b) => b.last)).toEqual([3]);
    expect(store.range('hour', 'a/t', 0, 1e15).map((b) => b.last)).toEqual([2, 3]);
  });
});

describe('rollups timers and failures', () => {
  it('flushes on its own timer and keeps partials when a write fails', () => {
    const store = new MemoryRollupStore();
    let fail = true;
    const flaky: RollupStore = {
      write: (b) => {
        if (fail) throw new Error('disk full');
        store.write(b);
      },
      range: (...a) => store.range(...a),
      deleteBefore: (...a) => store.deleteBefore(...a),
      latest: () => store.latest(),
    };
    const clock = new ManualClock(T0);
    const rollups = new Rollups({ store: flaky, clock });
    rollups.start();
    rollups.add([{ series: 'a/t', ts: T0, value: 1 }, { series: 'a/t', ts: T0 + 61_000, value: 2 }]);
    clock.advance(5000);
    expect(rollups.stats().flushFailures).toBe(1);
    fail = false;
    clock.advance(5000);
    expect(store.range('minute', 'a/t', 0, 1e15).map((b) => [b.count, b.last])).toEqual([
      [1, 1],
      [1, 2],
    ]);
    rollups.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('skips strings and caps the number of series', () => {
    const rollups = new Rollups({ store: new MemoryRollupStore(), clock: new ManualClock(T0), config: { maxSeries: 2 } });
    rollups.add([
      { series: 'a/1', ts: T0, value: 'x' },
      { series: 'a/2', ts: T0, value: 1 },
      { series: 'a/3', ts: T0, value: 1 },
    ]);
    expect(rollups.stats()).toMatchObject({ skippedNotNumeric: 1, skippedSeriesCap: 1, series: 2 });
  });
});

describe('rollups config', () => {
  it('fills defaults and refuses bad keys with their path', () => {
    expect(validateRollupsConfig({ minute: { retention: '2d' } }).retentionMs).toEqual({ minute: 2 * 86_400_000, hour: 400 * 86_400_000 });
    expect(() => validateRollupsConfig({ minutes: {} })).toThrow(expect.objectContaining({ code: 'FM_ERR_ROLLUP_UNKNOWN_KEY', key: 'rollups.minutes' }));
    expect(() => validateRollupsConfig({ hour: { retention: 'forever' } })).toThrow(
      expect.objectContaining({ code: 'FM_ERR_ROLLUP_BAD_DURATION', key: 'rollups.hour.retention' }),
    );
    expect(() => validateRollupsConfig({ maxPending: 0 })).toThrow(expect.objectContaining({ code: 'FM_ERR_ROLLUP_BAD_NUMBER' }));
  });
});
