import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { Clock, Reading } from '@fieldmesh/device-sdk';
import { addValue, emptyAggregate, type Aggregate } from '../rollups/bucket.js';
import { KIND_NUMBER, toAppendBatch, type AppendBatch } from './append-transaction.js';
import { StoreError } from './errors.js';
import { ROW_BYTES_SQL, rowBytes, type LogPosition } from './log-position.js';
import { addLoss, DOWNSAMPLE_STATS, DOWNSAMPLE_SUFFIX, type LossReason } from './loss-ledger.js';
import { DEVICE_SEQ_WINDOW } from './reading-log.js';
import type { ReadingLogMeta } from './reading-log-meta.js';
import type { SeriesCatalog } from './series-catalog.js';
import type { SqliteLossLedger } from './sqlite-loss-ledger.js';
import type { BudgetedLog } from './storage-budget.js';

/**
 * WAL bytes kept after a checkpoint: without a limit the WAL file stays at its high-water size
 * for ever, which the budget would have to carry. 4 MiB is ~1,000 pages, the autocheckpoint size.
 */
export const JOURNAL_SIZE_LIMIT = 4 * 1024 * 1024;
const MINUTE_MS = 60_000;

/**
 * The storage budget's tools on the SQLite reading log (storage-budget.ts decides when and
 * which): disk usage, admission (reject-new), pruning acknowledged rows, evicting or downsampling
 * unsent ones (counted in the loss ledger), giving space back, bounding the WAL.
 */
export class SqliteBudgetTools implements BudgetedLog {
  private admissionOpen = true;
  private readonly stmt: Record<'nthAfter' | 'deleteRange' | 'deleteOne' | 'perSeries' | 'rawNumbers' | 'downsampled', Database.Statement>;

  constructor(
    private readonly db: Database.Database,
    private readonly file: string,
    private readonly position: LogPosition,
    private readonly parts: { meta: ReadingLogMeta; catalog: SeriesCatalog; losses: SqliteLossLedger; append: (batch: AppendBatch) => number; clock: Clock },
  ) {
    this.stmt = {
      nthAfter: db.prepare('SELECT seq FROM readings WHERE seq > ? ORDER BY seq LIMIT 1 OFFSET ?').pluck(),
      deleteRange: db.prepare('DELETE FROM readings WHERE seq > ? AND seq <= ?'),
      deleteOne: db.prepare('DELETE FROM readings WHERE seq = ?'),
      perSeries: db.prepare(`SELECT sid, count(*), sum(${ROW_BYTES_SQL}) FROM readings WHERE seq > ? AND seq <= ? GROUP BY sid`).raw(),
      rawNumbers: db
        .prepare(
          `SELECT seq, sid, ts, value FROM readings WHERE seq > ? AND kind = ${KIND_NUMBER} AND sid NOT IN (SELECT id FROM series WHERE instr(name, '${DOWNSAMPLE_SUFFIX}:') > 0) ORDER BY seq LIMIT ?`,
        )
        .raw(),
      downsampled: db.prepare('INSERT INTO downsampled (first_seq, last_seq, readings, rollup_first, rollup_last, at) VALUES (?, ?, ?, ?, ?, ?)'),
    };
  }

  /** Bytes the log takes on disk now: the database file plus its WAL. */
  diskUsage(): { dbBytes: number; walBytes: number; bytes: number } {
    const size = (f: string): number => {
      try {
        return statSync(f).size;
      } catch {
        return 0;
      }
    };
    const dbBytes = size(this.file);
    const walBytes = size(`${this.file}-wal`);
    return { dbBytes, walBytes, bytes: dbBytes + walBytes };
  }

  /** Rows stored in all, and how many of them are not yet acknowledged upstream. */
  rows(): { stored: number; unsent: number } {
    return { stored: this.position.rowCount, unsent: this.position.unsentRows };
  }

  /** A commit is in flight on the commit thread: budget work (which writes) must wait for it. */
  busy(): boolean {
    return this.position.asyncInFlight;
  }

  /** reject-new: while closed, appends are refused (counted) and throw FM_ERR_STORE_FULL. */
  setAdmission(open: boolean): void {
    this.admissionOpen = open;
  }

  admitting(): boolean {
    return this.admissionOpen;
  }

  /** Called before every append: refuses (and counts) while admission is closed. */
  admit(readings: readonly Reading[]): void {
    if (this.admissionOpen) return;
    this.parts.losses.refused(readings);
    throw new StoreError('FM_ERR_STORE_FULL', `storage budget reached (policy reject-new): ${readings.length} readings refused`);
  }

  /**
   * Deletes up to `maxRows` of the oldest rows the cloud already acknowledged (not a loss: they
   * are upstream). Returns how many went.
   */
  pruneAcked(maxRows: number): number {
    const p = this.position;
    p.assertIdle('storage budget work');
    if (p.rowCount - p.unsentRows <= 0 || maxRows <= 0) return 0;
    const nth = this.stmt.nthAfter.get(0, maxRows - 1) as number | undefined;
    const cutoff = Math.min(p.watermark, nth ?? p.watermark);
    const n = this.db.transaction(() => {
      this.parts.meta.set('seq_floor', String(p.last));
      return this.stmt.deleteRange.run(0, cutoff).changes;
    })();
    p.rowCount -= n;
    return n;
  }

  /** Deletes up to `maxRows` of the oldest unsent rows (seq order), counted as `reason`. */
  evictUnsent(maxRows: number, reason: LossReason): number {
    const p = this.position;
    p.assertIdle('storage budget work');
    if (p.unsentRows <= 0 || maxRows <= 0) return 0;
    const nth = this.stmt.nthAfter.get(p.watermark, maxRows - 1) as number | undefined;
    const cutoff = nth ?? p.last;
    let gone = { n: 0, b: 0 };
    this.db.transaction(() => {
      const lost = new Map<string, number>();
      for (const [sid, n, b] of this.stmt.perSeries.all(p.watermark, cutoff) as Array<[number, number, number]>) {
        addLoss(lost, this.parts.catalog.name(sid), reason, n);
        gone = { n: gone.n + n, b: gone.b + b };
      }
      this.parts.losses.write(lost);
      this.parts.meta.set('seq_floor', String(p.last));
      this.stmt.deleteRange.run(p.watermark, cutoff);
    })();
    p.rowCount -= gone.n;
    p.unsentRows -= gone.n;
    p.unsentBytes -= gone.b;
    return gone.n;
  }

  /**
   * Replaces up to `maxRows` of the oldest unsent raw numeric readings by their 1-minute
   * rollups: per series and wall-clock minute, four readings `<series>:min1:{min,max,avg,count}`
   * appended with fresh seqs, so the uplink sends them like any reading and the cloud learns the
   * span from the series names. The raw seqs are recorded in `downsampled` and counted as loss
   * `downsampled`. Returns null when the rollups would not be smaller than the raw rows (sparse
   * series: one reading a minute), so the caller evicts instead.
   */
  downsampleUnsent(maxRows: number): { replaced: number; rollups: number } | null {
    const p = this.position;
    const { catalog } = this.parts;
    p.assertIdle('storage budget work');
    const rows = this.stmt.rawNumbers.all(p.watermark, maxRows) as Array<[number, number, number, number]>;
    if (rows.length === 0) return null;
    const groups = new Map<string, { sid: number; bucket: number; agg: Aggregate }>();
    for (const [, sid, ts, value] of rows) {
      const bucket = Math.floor(ts / MINUTE_MS) * MINUTE_MS;
      const k = `${sid}:${bucket}`;
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { sid, bucket, agg: emptyAggregate() }));
      addValue(g.agg, value, ts);
    }
    if (groups.size * DOWNSAMPLE_STATS.length >= rows.length) return null;
    const rollups: Reading[] = [];
    for (const g of [...groups.values()].sort((a, b) => a.bucket - b.bucket || a.sid - b.sid)) {
      const s = catalog.get(g.sid)!;
      const base = `${s.name}${DOWNSAMPLE_SUFFIX}`;
      const unit = s.unit !== '' ? { unit: s.unit } : {};
      rollups.push({ series: `${base}:min`, ts: g.bucket, value: g.agg.min, ...unit });
      rollups.push({ series: `${base}:max`, ts: g.bucket, value: g.agg.max, ...unit });
      rollups.push({ series: `${base}:avg`, ts: g.bucket, value: g.agg.sum / g.agg.count, ...unit });
      rollups.push({ series: `${base}:count`, ts: g.bucket, value: g.agg.count });
    }
    const firstRollup = p.last + 1;
    const known = catalog.size;
    try {
      p.last = this.db.transaction(() => {
        const lost = new Map<string, number>();
        for (const [seq, sid] of rows) {
          this.stmt.deleteOne.run(seq);
          addLoss(lost, catalog.name(sid), 'downsampled', 1);
        }
        this.parts.losses.write(lost);
        const last = this.parts.append(toAppendBatch(firstRollup, rollups, [], DEVICE_SEQ_WINDOW));
        this.stmt.downsampled.run(rows[0]![0], rows.at(-1)![0], rows.length, firstRollup, last, this.parts.clock.now());
        return last;
      })();
    } catch (err) {
      // A rolled-back transaction also rolled back any series it interned.
      if (catalog.size !== known) catalog.reload();
      throw err;
    }
    const removed = rows.length * rowBytes(0);
    p.rowCount += rollups.length - rows.length;
    p.unsentRows += rollups.length - rows.length;
    p.unsentBytes += rollups.reduce((n, r) => n + rowBytes(r.value), 0) - removed;
    return { replaced: rows.length, rollups: rollups.length };
  }

  /** Gives freed pages back to the file system and truncates the WAL (budget on disk). */
  reclaim(): void {
    this.position.assertIdle('storage budget work');
    this.db.pragma('incremental_vacuum');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /**
   * Bounds the WAL to about `bytes` (the budget counts it): autocheckpoint after that many pages,
   * and truncate to it after a checkpoint. The commit thread's connection keeps its own
   * autocheckpoint; the budget's checks checkpoint for it (StorageBudget.enforce).
   */
  limitWal(bytes: number): void {
    this.position.assertOpen();
    const page = Number(this.db.pragma('page_size', { simple: true }));
    this.db.pragma(`wal_autocheckpoint = ${Math.max(16, Math.min(1000, Math.floor(bytes / page)))}`);
    this.db.pragma(`journal_size_limit = ${Math.max(64 * 1024, Math.min(JOURNAL_SIZE_LIMIT, bytes))}`);
  }

  /** Checkpoint when idle (SD cards: fewer, larger writes than autocheckpoint under load). */
  checkpoint(): void {
    if (this.position.closed || this.position.asyncInFlight) return;
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }
}
