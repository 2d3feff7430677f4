import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '#device-sdk/clock';
import type { Reading } from '#device-sdk/reading';
import { QueryApi } from '#gateway/query/api';
import { parseReadingsQuery } from '#gateway/query/params';
import { LogScanRawSource, type RawReadingSource } from '#gateway/query/raw-source';
import { queryReadings, tierForStep, type RawPage, type StepResult } from '#gateway/query/readings';
import { ensureTimeIndex, SqliteRawReadings } from '#gateway/query/sqlite-raw-source';
import { MemoryRollupStore } from '#gateway/rollups/memory-store';
import { Rollups } from '#gateway/rollups/rollups';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import type { ReadingLog } from '#gateway/store/reading-log';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';

const dir = mkdtempSync(join(tmpdir(), 'fm-query-'));
const closers: Array<() => void> = [];
afterAll(() => {
  for (const c of closers) c();
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;
const T0 = Date.UTC(2026, 0, 1);

interface Fixture {
  log: ReadingLog;
  raw: RawReadingSource;
}

const sources: Array<[string, () => Fixture]> = [
  [
    'scan over MemoryReadingLog',
    () => {
      const log = new MemoryReadingLog();
      return { log, raw: new LogScanRawSource(log) };
    },
  ],
  [
    'SQLite index over SqliteReadingLog',
    () => {
      const file = join(dir, `q${++n}.db`);
      const log = new SqliteReadingLog(file);
      const db = new Database(file);
      ensureTimeIndex(db);
      closers.push(() => {
        db.close();
        log.close();
      });
      return { log, raw: new SqliteRawReadings(db) };
    },
  ],
];

function q(params: Record<string, string | number>) {
  return parseReadingsQuery(new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)] as [string, string])));
}

function setup(make: () => Fixture, readings: Reading[]) {
  const f = make();
  f.log.append(readings);
  const rollups = new Rollups({ store: new MemoryRollupStore(), clock: new ManualClock(T0), config: { flushInterval: 0 } });
  rollups.add(readings);
  const run = (p: Record<string, string | number>) => queryReadings(q(p), f.raw, rollups);
  return { ...f, rollups, run };
}

describe.each(sources)('raw readings: %s', (_name, make) => {
  const readings: Reading[] = [
    { series: 'a/t', ts: T0 + 10, value: 1, unit: 'Cel' },
    { series: 'a/t', ts: T0 + 20, value: 2, unit: 'Cel' },
    { series: 'a/t', ts: T0 + 20, value: 3, unit: 'Cel' }, // same ts: ordered by seq
    { series: 'b/t', ts: T0 + 20, value: 99 },
    { series: 'a/t', ts: T0 + 5, value: 0, unit: 'Cel' }, // arrived late
    { series: 'a/t', ts: T0 + 30, value: true },
    { series: 'a/t', ts: T0 + 40, value: 'x' },
  ];

  it('from is inclusive, to exclusive; order is (ts, seq); values keep their type', () => {
    const { run } = setup(make, readings);
    const page = run({ series: 'a/t', from: T0 + 10, to: T0 + 40 }) as RawPage;
    expect(page.readings).toEqual([
      { ts: T0 + 10, value: 1, unit: 'Cel' },
      { ts: T0 + 20, value: 2, unit: 'Cel' },
      { ts: T0 + 20, value: 3, unit: 'Cel' },
      { ts: T0 + 30, value: true },
    ]);
    expect(page.next).toBeNull();
    expect((run({ series: 'a/t', from: T0, to: T0 + 100 }) as RawPage).readings.map((r) => r.value)).toEqual([0, 1, 2, 3, true, 'x']);
  });

  it('empty ranges and unknown series give an empty page', () => {
    const { run } = setup(make, readings);
    expect(run({ series: 'a/t', from: T0 + 20, to: T0 + 20 })).toMatchObject({ readings: [], next: null });
    expect(run({ series: 'a/t', from: T0 + 21, to: T0 + 30 })).toMatchObject({ readings: [], next: null });
    expect(run({ series: 'zz/t', from: 0, to: T0 * 2 })).toMatchObject({ readings: [], next: null });
  });

  it('pages with a cursor, splitting equal timestamps without loss or repeats', () => {
    const { run } = setup(make, readings);
    const seen: unknown[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: RawPage = run({ series: 'a/t', from: T0, to: T0 + 100, limit: 2, ...(cursor ? { cursor } : {}) }) as RawPage;
      seen.push(...page.readings.map((r) => r.value));
      cursor = page.next;
      pages++;
    } while (cursor);
    expect(seen).toEqual([0, 1, 2, 3, true, 'x']);
    expect(pages).toBe(3);
  });

  it('stepped: one point per step-aligned bucket with data, whole buckets, numeric values only', () => {
    const { run } = setup(make, readings);
    const r = run({ series: 'a/t', from: T0 + 12, to: T0 + 35, step: 10 }) as StepResult;
    expect(r.source).toBe('raw');
    expect(r.points).toEqual([
      { ts: T0 + 10, min: 1, max: 1, avg: 1, count: 1, last: 1 },
      { ts: T0 + 20, min: 2, max: 3, avg: 2.5, count: 2, last: 3 },
      { ts: T0 + 30, min: 1, max: 1, avg: 1, count: 1, last: 1 },
    ]);
  });
});

describe('SqliteRawReadings work budget', () => {
  it('pages a sparse series among busy ones in bounded steps, without loss or repeats', () => {
    const file = join(dir, `budget${++n}.db`);
    const log = new SqliteReadingLog(file);
    const db = new Database(file);
    ensureTimeIndex(db);
    closers.push(() => {
      db.close();
      log.close();
    });
    const readings: Reading[] = [];
    for (let s = 0; s < 3600; s++) {
      for (let d = 0; d < 5; d++) readings.push({ series: `busy${d}/v`, ts: T0 + s * 1000, value: s });
      if (s % 600 === 0) readings.push({ series: 'rare/door', ts: T0 + s * 1000, value: s % 1200 === 0 });
    }
    log.append(readings);
    // Budget 0: every call scans its first window (1 min) and stops there.
    const raw = new SqliteRawReadings(db, { budgetMs: 0, firstWindowMs: 60_000 });
    const rollups = new Rollups({ store: new MemoryRollupStore(), clock: new ManualClock(T0) });
    const seen: unknown[] = [];
    let cursor: string | null = null;
    let pages = 0;
    let short = 0;
    do {
      const page: RawPage = queryReadings(q({ series: 'rare/door', from: T0, to: T0 + 3_600_000, limit: 2, ...(cursor ? { cursor } : {}) }), raw, rollups) as RawPage;
      seen.push(...page.readings.map((r) => `${r.ts - T0}:${String(r.value)}`));
      if (page.readings.length < 2 && page.next) short++;
      cursor = page.next;
      pages++;
    } while (cursor && pages < 1000);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5].map((k) => `${k * 600_000}:${k % 2 === 0}`));
    expect(short).toBeGreaterThan(0);
    // A stepped raw query goes on through the stops to the end.
    const stepped = queryReadings(q({ series: 'busy1/v', from: T0, to: T0 + 3_600_000, step: 900_000 }), raw, rollups, 'raw') as StepResult;
    expect(stepped.points.map((p) => p.count)).toEqual([900, 900, 900, 900]);
  });
});

describe('SqliteRawReadings over long empty stretches', () => {
  it('answers from=0 (or across a long silence) in the first page, jumping over empty time', () => {
    const file = join(dir, `gap${++n}.db`);
    const log = new SqliteReadingLog(file);
    const db = new Database(file);
    ensureTimeIndex(db);
    closers.push(() => {
      db.close();
      log.close();
    });
    // Two readings a year apart; the default budget would run out long before walking 56 years
    // (or one year) of empty one-minute-to-six-hour windows.
    log.append([
      { series: 'dev/t', ts: T0, value: 1 },
      { series: 'dev/t', ts: T0 + 365 * 86_400_000, value: 2 },
    ]);
    const raw = new SqliteRawReadings(db);
    const page = raw.range('dev/t', 0, T0 + 400 * 86_400_000, null, 10);
    expect(page.readings.map((r) => r.value)).toEqual([1, 2]);
    expect(page.stoppedAt).toBeUndefined();
  });
});

describe('stepped queries read the right tier and agree with raw aggregation', () => {
  it('chooses the widest tier dividing the step', () => {
    expect([1000, 59_000, 60_000, 90_000, 120_000, 3_600_000, 5_400_000, 86_400_000].map(tierForStep)).toEqual([
      'raw',
      'raw',
      'minute',
      'raw',
      'minute',
      'hour',
      'minute',
      'hour',
    ]);
  });

  it('rollup answers equal raw answers on random data (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: -600_000, max: 400_000 }), v: fc.integer({ min: -1000, max: 1000 }) }), { minLength: 1, maxLength: 200 }),
        fc.constantFrom(60_000, 120_000, 3_600_000, 7_200_000),
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.integer({ min: 0, max: 20_000_000 }),
        (steps, step, fromOff, len) => {
          let ts = T0 + 3_600_000;
          const readings = steps.map(({ dt, v }) => ({ series: 'a/t', ts: (ts = Math.max(T0, ts + dt)), value: v / 8 }));
          const { raw, rollups } = setup(sources[0]![1], readings);
          const query = q({ series: 'a/t', from: T0 + fromOff, to: T0 + fromOff + len, step });
          const viaTier = queryReadings(query, raw, rollups) as StepResult;
          const viaRaw = queryReadings(query, raw, rollups, 'raw') as StepResult;
          expect(viaTier.source).not.toBe('raw');
          expect(viaTier.points).toEqual(viaRaw.points);
          // Brute force: group the readings by step bucket over the overlapped buckets.
          const start = Math.floor(query.from / step) * step;
          const end = Math.ceil(query.to / step) * step;
          const groups = new Map<number, number[]>();
          const lasts = new Map<number, { ts: number; v: number }>();
          readings.forEach((r) => {
            if (query.from === query.to || r.ts < start || r.ts >= end) return;
            const k = Math.floor(r.ts / step) * step;
            groups.set(k, [...(groups.get(k) ?? []), r.value]);
            const l = lasts.get(k);
            if (!l || r.ts >= l.ts) lasts.set(k, { ts: r.ts, v: r.value });
          });
          const want = [...groups.keys()].sort((a, b) => a - b).map((k) => {
            const vs = groups.get(k)!;
            return { ts: k, min: Math.min(...vs), max: Math.max(...vs), avg: vs.reduce((a, b) => a + b, 0) / vs.length, count: vs.length, last: lasts.get(k)!.v };
          });
          expect(viaTier.points).toEqual(want);
        },
      ),
      { numRuns: 80 },
    );
  });
});

describe('parameters: 400 with the reason', () => {
  const api = new QueryApi({
    raw: new LogScanRawSource(new MemoryReadingLog()),
    rollups: new Rollups({ store: new MemoryRollupStore(), clock: new ManualClock(T0) }),
  });
  const get = (qs: string) => api.handle('/api/readings', new URLSearchParams(qs));
  it.each([
    ['from=0&to=1', 'FM_ERR_QUERY_MISSING_PARAM', 'series'],
    ['series=a/t&to=1', 'FM_ERR_QUERY_MISSING_PARAM', 'from'],
    ['series=a/t&from=0', 'FM_ERR_QUERY_MISSING_PARAM', 'to'],
    ['series=a&from=0&to=1', 'FM_ERR_QUERY_BAD_SERIES', 'series'],
    ['series=a/t&from=yesterday&to=1', 'FM_ERR_QUERY_NOT_A_NUMBER', 'from'],
    ['series=a/t&from=1.5&to=2', 'FM_ERR_QUERY_NOT_A_NUMBER', 'from'],
    ['series=a/t&from=0&to=1e3', 'FM_ERR_QUERY_NOT_A_NUMBER', 'to'],
    ['series=a/t&from=2&to=1', 'FM_ERR_QUERY_RANGE', 'from'],
    ['series=a/t&from=0&to=1&step=0', 'FM_ERR_QUERY_BAD_STEP', 'step'],
    ['series=a/t&from=0&to=1&step=-5', 'FM_ERR_QUERY_BAD_STEP', 'step'],
    ['series=a/t&from=0&to=1&step=x', 'FM_ERR_QUERY_NOT_A_NUMBER', 'step'],
    ['series=a/t&from=0&to=86400000&step=1', 'FM_ERR_QUERY_TOO_MANY_POINTS', 'step'],
    ['series=a/t&from=0&to=1&limit=0', 'FM_ERR_QUERY_BAD_LIMIT', 'limit'],
    ['series=a/t&from=0&to=1&limit=1000000', 'FM_ERR_QUERY_BAD_LIMIT', 'limit'],
    ['series=a/t&from=0&to=1&cursor=%%%', 'FM_ERR_QUERY_BAD_CURSOR', 'cursor'],
    ['series=a/t&from=0&to=1&frm=0', 'FM_ERR_QUERY_UNKNOWN_PARAM', 'frm'],
    ['series=a/t&series=b/t&from=0&to=1', 'FM_ERR_QUERY_DUPLICATE_PARAM', 'series'],
  ])('%s → %s (%s)', (qs, code, param) => {
    const res = get(qs)!;
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: code, param });
    expect((res.body as { reason: string }).reason).toContain(param);
  });

  it('refuses a raw-aggregated step over more raw readings than maxRawScan', () => {
    const log = new MemoryReadingLog();
    log.append(Array.from({ length: 30 }, (_, i) => ({ series: 'a/t', ts: T0 + i * 1000, value: i })));
    const small = new QueryApi({
      raw: new LogScanRawSource(log),
      rollups: new Rollups({ store: new MemoryRollupStore(), clock: new ManualClock(T0) }),
      limits: { maxPoints: 10_000, defaultLimit: 10, maxLimit: 100, maxRawScan: 20, maxRawScanMs: 10_000 },
    });
    expect(small.handle('/api/readings', new URLSearchParams(`series=a/t&from=${T0}&to=${T0 + 15_000}&step=5000`))!.status).toBe(200);
    const res = small.handle('/api/readings', new URLSearchParams(`series=a/t&from=${T0}&to=${T0 + 30_000}&step=5000`))!;
    expect(res).toMatchObject({ status: 400, body: { error: 'FM_ERR_QUERY_RAW_SCAN', param: 'step' } });
  });

  it('exactly maxPoints steps is allowed, one more is not', () => {
    expect(get('series=a/t&from=0&to=10000&step=1')!.status).toBe(200);
    expect(get('series=a/t&from=0&to=10001&step=1')!.status).toBe(400);
    expect(get('series=a/t&from=5&to=5&step=1')!.status).toBe(200);
  });
});

describe('series and latest', () => {
  it('lists series with last value, time and unit, filters by pattern, answers latest', () => {
    const rollups = new Rollups({ store: new MemoryRollupStore(), clock: new ManualClock(T0) });
    rollups.add([
      { series: 'b/t', ts: 5, value: 2 },
      { series: 'a/t', ts: 7, value: 1.5, unit: 'Cel' },
      { series: 'a/h', ts: 7, value: 'dry' },
    ]);
    const api = new QueryApi({ raw: new LogScanRawSource(new MemoryReadingLog()), rollups });
    expect(api.handle('/api/series', new URLSearchParams())!.body).toEqual({
      series: [
        { series: 'a/h', lastTs: 7, lastValue: 'dry' },
        { series: 'a/t', lastTs: 7, lastValue: 1.5, unit: 'Cel' },
        { series: 'b/t', lastTs: 5, lastValue: 2 },
      ],
    });
    expect(api.handle('/api/series', new URLSearchParams('match=*/t'))!.body).toMatchObject({ series: [{ series: 'a/t' }, { series: 'b/t' }] });
    expect(api.handle('/api/series', new URLSearchParams('match=nope'))!.status).toBe(400);
    expect(api.handle('/api/latest', new URLSearchParams('series=a/t'))).toEqual({ status: 200, body: { series: 'a/t', ts: 7, value: 1.5, unit: 'Cel' } });
    expect(api.handle('/api/latest', new URLSearchParams('series=x/y'))!.status).toBe(404);
    expect(api.handle('/api/nothing', new URLSearchParams())).toBeUndefined();
  });
});
