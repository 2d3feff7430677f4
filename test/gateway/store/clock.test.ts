import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock, Timer } from '@fieldmesh/device-sdk';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { SystemClockHealth } from '#gateway/store/clock-health';
import { StorageBudget } from '#gateway/store/storage-budget';
import { lossTotals } from '#gateway/store/loss-ledger';

const YEAR = 365 * 24 * 3600 * 1000;
const dirs: string[] = [];
const logs: SqliteReadingLog[] = [];
afterEach(() => {
  while (logs.length) logs.pop()!.close();
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

/** A clock whose wall time can be set anywhere (an RTC-less board), monotonic time moving on. */
class SettableClock implements Clock {
  constructor(
    public wall: number,
    public mono = 1000,
  ) {}
  now(): number {
    return this.wall;
  }
  monotonic(): number {
    return this.mono;
  }
  advance(ms: number): void {
    this.wall += ms;
    this.mono += ms;
  }
  setTimeout(): Timer {
    throw new Error('not used');
  }
  clearTimeout(): void {}
}

function setup(wall: number, opts: { bootId?: string; dir?: string; commitThread?: boolean } = {}) {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'fm-clock-'));
  if (!opts.dir) dirs.push(dir);
  const syncFile = join(dir, 'synchronized');
  const clock = new SettableClock(wall);
  const log = new SqliteReadingLog(join(dir, 'gateway.db'), {
    clock,
    bootId: opts.bootId ?? 'boot-a',
    commitThread: opts.commitThread ?? false,
    clockHealth: (lastKnownGood) => new SystemClockHealth(lastKnownGood, { syncFile }),
  });
  logs.push(log);
  return { dir, clock, log, sync: () => writeFileSync(syncFile, '') };
}

describe('time without an RTC', () => {
  it.each([false, true])('a boot at 1970: readings marked uncertain, corrected from monotonic time when sync arrives (commit thread %s)', async (commitThread) => {
    const { clock, log, sync } = setup(0, { commitThread });
    const stamped: Array<{ mono: number }> = [];
    for (let i = 0; i < 5; i++) {
      stamped.push({ mono: clock.mono });
      // The gateway stamps ts from its (wrong) wall clock.
      await log.appendAsync([{ series: 'dev1/t', ts: clock.now(), value: i }]);
      clock.advance(1000);
    }
    expect(log.readAfter(0, 10).every((r) => r.uncertain)).toBe(true);
    expect(log.clockState()).toMatchObject({ knownGood: false, uncertainReadings: 5 });
    // NTP syncs: the wall clock jumps to the real time.
    clock.advance(500);
    clock.wall = Date.UTC(2026, 10, 22, 4, 0, 0);
    sync();
    await log.appendAsync([{ series: 'dev1/t', ts: clock.now(), value: 5 }]);
    const back = log.readAfter(0, 10);
    expect(back.map((r) => r.value)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(back.some((r) => r.uncertain)).toBe(false);
    for (let i = 0; i < 5; i++) expect(back[i]!.ts).toBe(clock.wall - (clock.mono - stamped[i]!.mono));
    expect(log.clockState()).toMatchObject({ knownGood: true, uncertainReadings: 0 });
  });

  it('a wall time below the last known good one (clock set back a year) is uncertain; a previous boot stays uncertain after sync', () => {
    const first = setup(Date.UTC(2026, 10, 1));
    first.log.append([{ series: 'dev1/t', ts: first.clock.now(), value: 1 }]);
    first.clock.advance(61_000);
    first.log.append([{ series: 'dev1/t', ts: first.clock.now(), value: 2 }]); // persists last good
    first.log.close();
    // Next boot: the clock comes up a year behind.
    const second = setup(Date.UTC(2025, 10, 1), { dir: first.dir, bootId: 'boot-b' });
    second.log.append([{ series: 'dev1/t', ts: second.clock.now(), value: 3 }]);
    expect(second.log.readAfter(2, 10)[0]!.uncertain).toBe(true);
    second.log.close();
    // Third boot, also wrong; then sync: only this boot's reading is corrected.
    const third = setup(Date.UTC(2025, 10, 2), { dir: first.dir, bootId: 'boot-c' });
    third.log.append([{ series: 'dev1/t', ts: third.clock.now(), value: 4 }]);
    third.clock.wall = Date.UTC(2026, 10, 3);
    third.sync();
    third.log.append([{ series: 'dev1/t', ts: third.clock.now(), value: 5 }]);
    const rows = third.log.readAfter(0, 10);
    expect(rows.map((r) => [r.value, !!r.uncertain])).toEqual([
      [1, false],
      [2, false],
      [3, true],
      [4, false],
      [5, false],
    ]);
  });

  it('clock jumps of a year forward and back, and a boot at 1970, lose and reorder nothing, even under budget eviction', () => {
    const { clock, log } = setup(Date.UTC(2026, 5, 1));
    const budget = new StorageBudget(log, 1024 * 1024, 'drop-oldest');
    let value = 0;
    const jumps = [0, YEAR, -2 * YEAR, YEAR, -clock.wall, Date.UTC(2026, 6, 1)];
    for (const j of jumps) {
      clock.wall += j;
      for (let b = 0; b < 40; b++) {
        log.append(Array.from({ length: 500 }, () => ({ series: `dev${value % 3}/t`, ts: clock.now(), value: value++ })));
        clock.advance(100);
        budget.enforce();
      }
    }
    const rows = log.readAfter(0, 10_000_000);
    // Order is seq order = arrival order, whatever the wall clock said.
    for (let i = 1; i < rows.length; i++) {
      expect(rows[i]!.seq).toBeGreaterThan(rows[i - 1]!.seq);
      expect(rows[i]!.value).toBeGreaterThan(rows[i - 1]!.value as number);
    }
    // Eviction took the oldest by seq, never by time: survivors are exactly the newest values.
    expect(rows.at(-1)!.value).toBe(value - 1);
    expect(rows[0]!.value).toBe(value - rows.length);
    // Nothing lost silently: every reading is stored or counted.
    expect(rows.length + lossTotals(log.losses()).evicted).toBe(value);
  });
});
