import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '@fieldmesh/device-sdk';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { StoreError } from '#gateway/store/errors';
import { Ingest } from '#gateway/ingest/ingest';
import { lossTotals } from '#gateway/store/loss-ledger';

/** A real full disk: a 4 MiB tmpfs mounted in a temp dir (needs root; says so loudly otherwise). */
let mnt = '';
let mounted = false;
beforeAll(() => {
  mnt = mkdtempSync(join(tmpdir(), 'fm-diskfull-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt], { stdio: 'pipe' });
    mounted = true;
  } catch (err) {
    console.error(`\n\n!!! disk-full test: cannot mount a tmpfs (${(err as Error).message.split('\n')[0]}); run the tests as root !!!\n\n`);
  }
});
afterAll(() => {
  if (mounted) execFileSync('umount', ['-l', mnt]);
  rmSync(mnt, { recursive: true, force: true });
});

const T = Date.UTC(2026, 0, 1);
const batch = (from: number, n: number): Reading[] => Array.from({ length: n }, (_, k) => ({ series: `dev${(from + k) % 3}/temp`, ts: T + from + k, value: `v${from + k}-${'x'.repeat(40)}` }));

describe.each([false, true])('disk full on a real tmpfs (commit thread %s)', (commitThread) => {
  it('refuses new readings, loses nothing committed, stays sound, and resumes once space returns', async () => {
    expect(mounted, 'a tmpfs is needed for this test (root)').toBe(true);
    const dir = mkdtempSync(join(mnt, 'gw-'));
    try {
    const filler = join(dir, 'filler');
    writeFileSync(filler, Buffer.alloc(1024 * 1024));
    const file = join(dir, 'gateway.db');
    const log = new SqliteReadingLog(file, { commitThread });
    const ingest = new Ingest(log, { commitIntervalMs: 0, maxBatchReadings: 500 });
    let committed = 0;
    let refusedAt = -1;
    for (let i = 0; i < 1_000_000 && refusedAt < 0; i += 200) {
      try {
        await ingest.submit(`dev${i % 3}`, batch(i, 200).map((r) => ({ ...r, series: `dev${i % 3}/temp` })));
        committed += 200;
      } catch (err) {
        refusedAt = i;
        expect((err as Error).message).toMatch(/full/);
      }
    }
    expect(refusedAt).toBeGreaterThan(0);
    // Counted as refused (held in memory while the disk cannot take the count either).
    expect(lossTotals(log.losses()).refused).toBeGreaterThanOrEqual(200);
    expect(log.readAfter(0, 10_000_000).length).toBe(committed);

    // Space returns: ingest resumes within seconds.
    unlinkSync(filler);
    const t0 = Date.now();
    for (;;) {
      try {
        await ingest.submit('dev1', [{ series: 'dev1/temp', ts: T, value: 2 }]);
        break;
      } catch {
        if (Date.now() - t0 > 10_000) throw new Error('ingest did not resume within 10 s of space returning');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(Date.now() - t0).toBeLessThan(10_000);
    await ingest.stop();
    await log.closeAsync();

    // Reopened: everything committed is there, no corruption, refusals persisted.
    const again = new SqliteReadingLog(file);
    expect(again.readAfter(0, 10_000_000).length).toBe(committed + 1);
    expect(lossTotals(again.losses()).refused).toBeGreaterThanOrEqual(200);
    again.close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('quick_check', { simple: true })).toBe('ok');
    db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
