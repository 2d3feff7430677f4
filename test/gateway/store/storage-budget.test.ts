import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Reading } from '@fieldmesh/device-sdk';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { StorageBudget } from '#gateway/store/storage-budget';
import { lossTotals } from '#gateway/store/loss-ledger';
import { StoreError } from '#gateway/store/errors';
import { StorageKeeper } from '#gateway/store/storage-keeper';
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { ManualClock, systemClock } from '@fieldmesh/device-sdk';

const dirs: string[] = [];
const logs: SqliteReadingLog[] = [];
afterEach(() => {
  while (logs.length) logs.pop()!.close();
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fm-budget-'));
  dirs.push(dir);
  return join(dir, 'gateway.db');
}
function open(file: string): SqliteReadingLog {
  const log = new SqliteReadingLog(file);
  logs.push(log);
  return log;
}

const T = Date.UTC(2026, 0, 1);
/** 10 readings per second over 4 series: 150 readings per series-minute. */
const reading = (i: number): Reading => ({ series: `dev${i % 4}/temp`, ts: T + i * 100, value: (i % 97) * 0.5, unit: 'Cel' });

/** A long outage compressed in time: `n` readings in commits of 500, the budget checked after each. */
function record(log: SqliteReadingLog, budget: StorageBudget | null, from: number, n: number): { appended: number; refused: number } {
  let appended = 0;
  let refused = 0;
  for (let i = from; i < from + n; i += 500) {
    const batch = Array.from({ length: Math.min(500, from + n - i) }, (_, k) => reading(i + k));
    try {
      log.append(batch);
      appended += batch.length;
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'FM_ERR_STORE_FULL')) throw err;
      refused += batch.length;
    }
    budget?.enforce();
  }
  return { appended, refused };
}

/** Every seq ever handed out is either still stored or counted as lost: reading for reading. */
function expectExactAccounting(log: SqliteReadingLog, appended: number, rollups: number): void {
  const t = lossTotals(log.losses());
  const stored = log.rows().stored;
  // acknowledged-and-pruned rows are not a loss; none here (no uplink).
  expect(stored + t.downsampled + t.evicted).toBe(appended + rollups);
}

describe('StorageBudget on a real SQLite file', () => {
  it('a new database uses auto_vacuum=INCREMENTAL, and an old one is converted at open', () => {
    const file = tempFile();
    const log = open(file);
    log.close();
    const db = new Database(file);
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(2);
    db.close();
  });

  it('drop-oldest holds the budget on disk and counts every evicted reading per series', () => {
    const file = tempFile();
    const log = open(file);
    const budget = new StorageBudget(log, 1024 * 1024, 'drop-oldest');
    const { appended } = record(log, budget, 0, 120_000);
    const u = log.diskUsage();
    expect(u.bytes).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024); // within one commit of the budget
    const t = lossTotals(log.losses());
    expect(t.evicted).toBeGreaterThan(0);
    expectExactAccounting(log, appended, 0);
    // The survivors are the newest, in seq order, contiguous up to lastSeq.
    const rest = log.readAfter(0, 1_000_000);
    expect(rest.at(-1)!.seq).toBe(appended);
    expect(rest[0]!.seq).toBe(appended - rest.length + 1);
    expect(log.backlog().readings).toBe(rest.length);
    // per series
    const perSeries = log.losses().filter((l) => l.reason === 'evicted');
    expect(perSeries.map((l) => l.series).sort()).toEqual(['dev0/temp', 'dev1/temp', 'dev2/temp', 'dev3/temp']);
  });

  it('downsample replaces the oldest unsent raw readings by exact 1-minute rollups sent as new readings', () => {
    const file = tempFile();
    const log = open(file);
    const budget = new StorageBudget(log, 1024 * 1024, 'downsample');
    const { appended } = record(log, budget, 0, 100_000);
    expect(log.diskUsage().bytes).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024);
    const all = log.readAfter(0, 10_000_000);
    const rollups = all.filter((r) => r.series.includes(':min1:'));
    expect(rollups.length).toBeGreaterThan(0);
    const t = lossTotals(log.losses());
    expect(t.downsampled).toBeGreaterThan(0);
    // Every downsampled raw reading is inside exactly one count rollup (or its rollup was evicted later).
    const counted = rollups.filter((r) => r.series.endsWith(':count')).reduce((n, r) => n + (r.value as number), 0);
    expect(counted).toBeLessThanOrEqual(t.downsampled);
    if (t.evicted === 0) expect(counted).toBe(t.downsampled);
    // Check one rollup against the raw readings it replaced (recomputed from the generator).
    const c = rollups.find((r) => r.series === 'dev1/temp:min1:count')!;
    const avg = rollups.find((r) => r.series === 'dev1/temp:min1:avg' && r.ts === c.ts)!;
    const raws: number[] = [];
    for (let i = 0; i < appended; i++) {
      const x = reading(i);
      if (x.series === 'dev1/temp' && Math.floor(x.ts / 60_000) * 60_000 === c.ts) raws.push(x.value as number);
    }
    expect(c.value).toBe(raws.length);
    expect(avg.value).toBeCloseTo(raws.reduce((a, b) => a + b, 0) / raws.length, 9);
    expect(avg.unit).toBe('Cel');
    expectExactAccounting(log, appended, rollups.length + t.evicted - (t.evicted > 0 ? evictedRollups(log) : 0));
  });

  it('reject-new refuses appends over budget (counted), and admits again once acks let it prune', () => {
    const file = tempFile();
    const log = open(file);
    const budget = new StorageBudget(log, 1024 * 1024, 'reject-new');
    const { appended, refused } = record(log, budget, 0, 80_000);
    expect(refused).toBeGreaterThan(0);
    expect(log.admitting()).toBe(false);
    expect(lossTotals(log.losses()).refused).toBe(refused);
    // Nothing committed was lost.
    expect(log.rows().stored).toBe(appended);
    expect(log.readAfter(0, 1_000_000).length).toBe(appended);
    // The uplink comes back: acks, then the budget prunes acknowledged rows and reopens.
    log.advanceAckWatermark(log.lastSeq());
    budget.enforce();
    budget.enforce();
    expect(log.admitting()).toBe(true);
    expect(() => log.append([reading(1)])).not.toThrow();
  });

  it('acknowledged rows go first and are not counted as lost', () => {
    const file = tempFile();
    const log = open(file);
    record(log, null, 0, 60_000);
    log.advanceAckWatermark(50_000);
    const budget = new StorageBudget(log, 512 * 1024, 'drop-oldest');
    budget.enforce();
    expect(lossTotals(log.losses()).evicted).toBe(0);
    expect(budget.status().prunedAcked).toBeGreaterThan(0);
    expect(log.readAfter(50_000, 100_000).length).toBe(10_000);
  });

  it('backlog bytes are kept incrementally and equal a fresh count after reopen', () => {
    const file = tempFile();
    const log = open(file);
    record(log, new StorageBudget(log, 512 * 1024, 'downsample'), 0, 40_000);
    log.append([{ series: 'dev9/state', ts: T, value: 'open' }, { series: 'dev9/on', ts: T, value: true }]);
    log.advanceAckWatermark(30_000);
    log.quarantine(30_001, 30_010, 'test');
    const before = log.backlog();
    const losses = log.losses();
    log.close();
    const again = open(file);
    expect(again.backlog()).toEqual(before);
    expect(again.losses()).toEqual(losses);
  });

  it('quarantined readings are counted per series, and only those still unsent', () => {
    const log = open(tempFile());
    record(log, null, 0, 100);
    log.advanceAckWatermark(14);
    log.quarantine(11, 20, 'cloud refuses');
    const q = log.losses().filter((l) => l.reason === 'quarantined');
    // seqs 15..20 were unsent: reading(i) is seq i+1, so series dev{(seq-1)%4}.
    expect(Object.fromEntries(q.map((l) => [l.series, l.count]))).toEqual({ 'dev2/temp': 2, 'dev3/temp': 2, 'dev0/temp': 1, 'dev1/temp': 1 });
    expect(log.backlog().readings).toBe(80);
  });

  it('default budget: the board share of the free space plus what the log already takes', () => {
    const file = tempFile();
    const log = open(file);
    record(log, null, 0, 20_000);
    const own = log.diskUsage().bytes;
    const fs = statfsSync(dirname(file));
    const keeper = new StorageKeeper(log, { budgetBytes: 0, policy: 'downsample', checkIntervalMs: 5000, lowWaterPercent: 90 }, { dataDir: dirname(file), clock: systemClock, budgetFraction: 0.25 });
    const expected = (fs.bavail * fs.bsize + own) * 0.25;
    expect(Math.abs(keeper.budget.budgetBytes - expected) / expected).toBeLessThan(0.01);
    expect(keeper.status().budget.policy).toBe('downsample');
  });

  it('the keeper enforces on its timer, not only after commits', () => {
    const file = tempFile();
    const log = open(file);
    const clock = new ManualClock();
    const keeper = new StorageKeeper(log, { budgetBytes: 1024 * 1024, policy: 'drop-oldest', checkIntervalMs: 1000, lowWaterPercent: 90 }, { dataDir: dirname(file), clock });
    keeper.start();
    record(log, null, 0, 80_000);
    keeper.onCommitted();
    expect(log.diskUsage().bytes).toBeLessThanOrEqual(1024 * 1024);
    record(log, null, 80_000, 20_000); // over again, no commit hook called
    expect(log.diskUsage().bytes).toBeGreaterThan(1024 * 1024);
    clock.advance(1000);
    expect(log.diskUsage().bytes).toBeLessThanOrEqual(1024 * 1024);
    expect(keeper.status().lost.evicted).toBeGreaterThan(0);
    keeper.stop();
  });

  it('seqs are never reused after the tail was evicted, across a reopen', () => {
    const file = tempFile();
    const log = open(file);
    record(log, null, 0, 5_000);
    log.evictUnsent(10_000, 'evicted');
    expect(log.rows().stored).toBe(0);
    log.close();
    const again = open(file);
    expect(again.append([reading(1)]).firstSeq).toBe(5_001);
  });
});

function evictedRollups(log: SqliteReadingLog): number {
  return log.losses().filter((l) => l.reason === 'evicted' && l.series.includes(':min1:')).reduce((n, l) => n + l.count, 0);
}
