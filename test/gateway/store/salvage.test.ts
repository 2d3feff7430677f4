import { existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { openReadingLog } from '#gateway/store/salvage';
import { lossTotals } from '#gateway/store/loss-ledger';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});
const T = Date.UTC(2026, 0, 1);

/** A closed, checkpointed database with `n` readings, 10,000 acked, a mark and a loss count. */
function build(n: number): { dir: string; file: string; epoch: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fm-salvage-'));
  dirs.push(dir);
  const file = join(dir, 'gateway.db');
  const log = new SqliteReadingLog(file);
  for (let i = 0; i < n; i += 1000) log.append(Array.from({ length: 1000 }, (_, k) => ({ series: `dev1/s${k % 5}`, ts: T + i + k, value: i + k })), [{ device: 'dev1', seq: i }]);
  log.advanceAckWatermark(10_000);
  log.evictUnsent(0, 'evicted');
  log.close();
  const epoch = log.epoch;
  const db = new Database(file);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { dir, file, epoch };
}

function scribble(file: string, offset: number, length: number): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(length, 0xa5), 0, length, offset);
  closeSync(fd);
}

describe('damage control: a corrupt database is moved aside and salvaged', () => {
  it('damaged pages in the middle: the rest is salvaged with epoch, watermark, marks; the loss is counted', () => {
    const { dir, file, epoch } = build(50_000);
    // Pages 100..109 of ~1,300 (4 KiB pages): a few hundred readings' worth of leaf pages.
    scribble(file, 100 * 4096, 10 * 4096);
    const { log, salvage } = openReadingLog(file);
    try {
      expect(salvage).not.toBeNull();
      expect(salvage!.keptIdentity).toBe(true);
      expect(log.epoch).toBe(epoch);
      expect(log.ackWatermark()).toBe(10_000);
      expect(log.seenDeviceSeq('dev1', 49_000)).toBe(true);
      const rows = log.readAfter(0, 1_000_000);
      expect(rows.length).toBe(salvage!.readingsCopied);
      expect(rows.length).toBeGreaterThan(45_000);
      expect(salvage!.unreadableReadings).toBeGreaterThan(0);
      // Seqs were contiguous: every one is either salvaged or counted as unreadable.
      expect(rows.length + salvage!.unreadableReadings).toBe(50_000);
      expect(lossTotals(log.losses()).unreadable).toBe(salvage!.unreadableReadings);
      // Order kept, and a new append continues after the highest seq ever given.
      for (let i = 1; i < rows.length; i++) expect(rows[i]!.seq).toBeGreaterThan(rows[i - 1]!.seq);
      expect(log.append([{ series: 'dev1/s0', ts: T, value: -1 }]).firstSeq).toBe(50_001);
      expect(log.salvageReport()).toMatchObject({ readingsCopied: salvage!.readingsCopied });
    } finally {
      log.close();
    }
    // The damaged file is kept, never deleted.
    expect(readdirSync(dir).some((f) => f.startsWith('gateway.db.corrupt-'))).toBe(true);
    const db = new Database(file, { readonly: true });
    expect(db.pragma('quick_check', { simple: true })).toBe('ok');
    db.close();
  });

  it('a file that is not a database at all (header overwritten): moved aside, a fresh log, never silently', () => {
    const { dir, file, epoch } = build(5_000);
    scribble(file, 0, 100);
    const { log, salvage } = openReadingLog(file);
    try {
      expect(salvage!.reason).toMatch(/NOTADB|quick_check|CORRUPT/);
      expect(log.epoch).not.toBe(epoch); // identity unreadable: a new epoch, so no seq collides upstream
      expect(existsSync(salvage!.movedTo)).toBe(true);
    } finally {
      log.close();
    }
    expect(readdirSync(dir).filter((f) => f.startsWith('gateway.db.corrupt-')).length).toBe(1);
  });

  it('a sound database opens as it is', () => {
    const { file, epoch } = build(2_000);
    const { log, salvage } = openReadingLog(file);
    expect(salvage).toBeNull();
    expect(log.epoch).toBe(epoch);
    expect(log.readAfter(0, 10_000).length).toBe(2_000);
    log.close();
  });
});
