import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { openSqlite } from '@fieldmesh/device-sdk/sqlite';
import { systemClock, type Clock, type Reading, type ReadingValue } from '@fieldmesh/device-sdk';
import { KIND_BOOLEAN, KIND_STRING, prepareAppend, toAppendBatch, type AppendBatch } from './append-transaction.js';
import { readBootId, type ClockHealth } from './clock-health.js';
import { ClockStamps } from './clock-stamps.js';
import { DedupeMarks } from './dedupe-marks.js';
import { StoreError } from './errors.js';
import { LogPosition, ROW_BYTES_SQL } from './log-position.js';
import type { LossCount, LossReason } from './loss-ledger.js';
import { checkReading, DEVICE_SEQ_WINDOW, type Backlog, type DeviceSeqMark, type LoggedReading, type QuarantineStats, type ReadingLog } from './reading-log.js';
import { ReadingLogMeta } from './reading-log-meta.js';
import { readSalvageReport } from './salvage-report.js';
import { checkSchemaCompat, ensureIncrementalVacuum, migrate } from './schema.js';
import { SeriesCatalog } from './series-catalog.js';
import { JOURNAL_SIZE_LIMIT, SqliteBudgetTools } from './sqlite-budget-tools.js';
import { SqliteLossLedger } from './sqlite-loss-ledger.js';
import { SqliteQuarantine } from './sqlite-quarantine.js';
import { SqliteWriter } from './sqlite-writer.js';

export type { UncertainStamp } from './append-transaction.js';
export { rowBytes } from './log-position.js';
export { checkReading } from './reading-log.js';

/**
 * The reading log in one SQLite file (WAL, synchronous=FULL). Every append is one transaction;
 * when `append` returns, the readings survive kill -9 and power loss (if the disk honours fsync).
 * This class is the outbox itself (append, read, ack); each other concept is a part of its own:
 * series interning (series-catalog.js), the append transaction shared with the commit thread
 * (append-transaction.js), dedupe marks, quarantine, the loss ledger, clock stamps, the storage
 * budget's tools and the salvage report.
 */
export class SqliteReadingLog implements ReadingLog {
  readonly epoch: string;
  /** Schema version found at open (0: database born now). */
  readonly openedAtVersion: number;
  private readonly db: Database.Database;
  private readonly position: LogPosition;
  private readonly meta: ReadingLogMeta;
  private readonly catalog: SeriesCatalog;
  private readonly marks: DedupeMarks;
  private readonly lossLedger: SqliteLossLedger;
  private readonly quarantines: SqliteQuarantine;
  private readonly budget: SqliteBudgetTools;
  private readonly stamps: ClockStamps;
  private readonly appendTx: (batch: AppendBatch) => number;
  private readonly writer: SqliteWriter | null = null;
  private readonly stmt: { readAfter: Database.Statement; rangeBytes: Database.Statement; tsOf: Database.Statement };

  /**
   * Opens (or creates) the log at `file`; throws a StoreError when it cannot be made durable.
   * `commitThread`: run `appendAsync` transactions on a worker thread (the gateway does).
   */
  constructor(
    file: string,
    opts: {
      commitThread?: boolean;
      /** Without one, every wall time is trusted (tests, tools). The gateway passes SystemClockHealth. */
      clockHealth?: ClockHealth | ((lastKnownGood: () => number) => ClockHealth);
      clock?: Clock;
      /** Default: /proc/sys/kernel/random/boot_id. */
      bootId?: string;
    } = {},
  ) {
    const db = (this.db = openSqlite(Database, file, {
      fail: (kind, message) => new StoreError(kind === 'open' ? 'FM_ERR_STORE_OPEN' : 'FM_ERR_STORE_DURABILITY', message),
    }));
    try {
      // Before anything is written: a newer log is opened only when its compat version allows.
      checkSchemaCompat(db, file);
      ensureIncrementalVacuum(db);
      db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
      this.openedAtVersion = migrate(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.stmt = {
      readAfter: db.prepare('SELECT seq, sid, ts, kind, value, wall_off FROM readings WHERE seq > ? ORDER BY seq LIMIT ?').raw(),
      rangeBytes: db.prepare(`SELECT count(*) AS n, coalesce(sum(${ROW_BYTES_SQL}), 0) AS b FROM readings WHERE seq > ? AND seq <= ?`),
      tsOf: db.prepare('SELECT ts FROM readings WHERE seq > ? ORDER BY seq LIMIT 1').pluck(),
    };
    const meta = (this.meta = new ReadingLogMeta(db));
    let epoch = meta.get('epoch');
    if (epoch === undefined) {
      // Born with the database: a re-flashed gateway gets a new epoch, so (epoch, seq) never repeats.
      epoch = randomBytes(8).toString('hex');
      meta.set('epoch', epoch);
    }
    this.epoch = epoch;
    const watermark = Number(meta.get('ack_watermark') ?? 0);
    // Counted once at open (one scan), then kept incrementally, so a scrape never scans.
    const unsent = db.prepare(`SELECT count(*) AS n, coalesce(sum(${ROW_BYTES_SQL}), 0) AS b FROM readings WHERE seq > ?`).get(watermark) as { n: number; b: number };
    this.position = new LogPosition({
      // seq_floor: the highest seq ever handed out, kept when deletes emptied the tail of the table.
      last: Math.max(watermark, Number(meta.get('seq_floor') ?? 0), Number(db.prepare('SELECT max(seq) FROM readings').pluck().get() ?? 0)),
      watermark,
      rowCount: Number(db.prepare('SELECT count(*) FROM readings').pluck().get()),
      unsentRows: unsent.n,
      unsentBytes: unsent.b,
    });
    const catalog = (this.catalog = new SeriesCatalog(db));
    this.appendTx = prepareAppend(db, catalog);
    this.marks = new DedupeMarks(db);
    const losses = (this.lossLedger = new SqliteLossLedger(db, this.position));
    const clock = opts.clock ?? systemClock;
    this.quarantines = new SqliteQuarantine(db, this.position, { meta, catalog, losses, clock });
    this.budget = new SqliteBudgetTools(db, file, this.position, { meta, catalog, losses, append: this.appendTx, clock });
    this.stamps = new ClockStamps(db, this.position, meta, clock, opts.bootId ?? readBootId(), opts.clockHealth);
    if (opts.commitThread) this.writer = new SqliteWriter(file);
  }

  append(readings: readonly Reading[], marks: readonly DeviceSeqMark[] = []): { firstSeq: number; lastSeq: number } {
    const p = this.position;
    p.assertOpen();
    if (p.asyncInFlight) throw new StoreError('FM_ERR_STORE_BUSY', 'append while appendAsync is in flight');
    for (const r of readings) checkReading(r);
    const firstSeq = p.last + 1;
    if (readings.length === 0 && marks.length === 0) return { firstSeq, lastSeq: p.last };
    this.budget.admit(readings);
    const stamp = this.stamps.stampNow();
    try {
      p.last = this.appendTx(toAppendBatch(firstSeq, readings, marks, DEVICE_SEQ_WINDOW, stamp));
    } catch (err) {
      throw this.commitFailed(readings, err);
    }
    p.appended(readings);
    return { firstSeq, lastSeq: p.last };
  }

  async appendAsync(readings: readonly Reading[], marks: readonly DeviceSeqMark[] = []): Promise<{ firstSeq: number; lastSeq: number }> {
    if (!this.writer) return this.append(readings, marks);
    const p = this.position;
    p.assertOpen();
    if (p.asyncInFlight) throw new StoreError('FM_ERR_STORE_BUSY', 'appendAsync while another is in flight');
    for (const r of readings) checkReading(r);
    const firstSeq = p.last + 1;
    if (readings.length === 0 && marks.length === 0) return { firstSeq, lastSeq: p.last };
    this.budget.admit(readings);
    const stamp = this.stamps.stampNow();
    p.asyncInFlight = true;
    try {
      // Sequence numbers are assigned here and become visible (lastSeq) only once committed;
      // one commit in flight at a time keeps them contiguous even when a commit fails.
      try {
        await this.writer.commit(toAppendBatch(firstSeq, readings, marks, DEVICE_SEQ_WINDOW, stamp));
      } catch (err) {
        throw this.commitFailed(readings, err);
      }
      p.last = firstSeq + readings.length - 1;
      p.appended(readings);
    } finally {
      p.asyncInFlight = false;
    }
    return { firstSeq, lastSeq: p.last };
  }

  seenDeviceSeq(device: string, seq: number, digest?: string): boolean {
    this.position.assertOpen();
    return this.marks.seen(device, seq, digest);
  }

  readAfter(afterSeq: number, limit: number): LoggedReading[] {
    this.position.assertOpen();
    const rows = this.stmt.readAfter.all(afterSeq, limit) as Array<[number, number, number, number, number | string, number | null]>;
    const out: LoggedReading[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [seq, sid, ts, kind, raw, wallOff] = rows[i]!;
      // The commit thread interns series on its own connection: the catalog learns new ones on first sight.
      const s = this.catalog.get(sid)!;
      const value: ReadingValue = kind === KIND_BOOLEAN ? raw === 1 : kind === KIND_STRING ? String(raw) : Number(raw);
      const r: LoggedReading = { seq, series: s.name, ts, value };
      if (s.unit !== '') r.unit = s.unit;
      if (wallOff !== null) r.uncertain = true;
      out[i] = r;
    }
    return out;
  }

  lastSeq(): number {
    return this.position.last;
  }

  ackWatermark(): number {
    return this.position.watermark;
  }

  advanceAckWatermark(seq: number): void {
    const p = this.position;
    p.assertOpen();
    if (!(seq > p.watermark)) return;
    const to = Math.min(seq, p.last);
    const acked = this.stmt.rangeBytes.get(p.watermark, to) as { n: number; b: number };
    this.meta.set('ack_watermark', String(to));
    p.acked(to, acked.n, acked.b);
  }

  quarantine(firstSeq: number, lastSeq: number, reason: string): void {
    this.position.assertOpen();
    this.quarantines.quarantine(firstSeq, lastSeq, reason);
  }

  quarantined(): QuarantineStats {
    this.position.assertOpen();
    return this.quarantines.stats();
  }

  backlog(): Backlog {
    const p = this.position;
    p.assertOpen();
    const oldest = p.unsentRows > 0 ? (this.stmt.tsOf.get(p.watermark) as number | undefined) : undefined;
    return { readings: p.unsentRows, bytes: p.unsentBytes, oldestUnsentTs: oldest ?? null };
  }

  /** The connection's journal mode and synchronous level, as SQLite reports them now. */
  durability(): { journalMode: string; synchronous: number } {
    this.position.assertOpen();
    return {
      journalMode: String(this.db.pragma('journal_mode', { simple: true })),
      synchronous: Number(this.db.pragma('synchronous', { simple: true })),
    };
  }

  // ── The storage budget's tools (sqlite-budget-tools.ts) ────────────────────────────────────
  diskUsage(): { dbBytes: number; walBytes: number; bytes: number } {
    return this.budget.diskUsage();
  }
  rows(): { stored: number; unsent: number } {
    return this.budget.rows();
  }
  busy(): boolean {
    return this.budget.busy();
  }
  setAdmission(open: boolean): void {
    this.budget.setAdmission(open);
  }
  admitting(): boolean {
    return this.budget.admitting();
  }
  pruneAcked(maxRows: number): number {
    return this.budget.pruneAcked(maxRows);
  }
  evictUnsent(maxRows: number, reason: LossReason): number {
    return this.budget.evictUnsent(maxRows, reason);
  }
  downsampleUnsent(maxRows: number): { replaced: number; rollups: number } | null {
    return this.budget.downsampleUnsent(maxRows);
  }
  reclaim(): void {
    this.budget.reclaim();
  }
  limitWal(bytes: number): void {
    this.budget.limitWal(bytes);
  }
  checkpoint(): void {
    this.budget.checkpoint();
  }

  // ── Clock stamps (clock-stamps.ts), losses, salvage report, series ──────────────────────────
  /** See ClockStamps.correct. */
  correctClock(syncWall: number, syncMono: number): number {
    this.position.assertOpen();
    return this.stamps.correct(syncWall, syncMono);
  }

  /** Whether the wall clock is trusted now, and how many stored readings carry an uncertain time. */
  clockState(): { knownGood: boolean; uncertainReadings: number; bootId: string } {
    this.position.assertOpen();
    return this.stamps.state();
  }

  /** The report of the salvage this database was born from (salvage.ts), if any. */
  salvageReport(): Record<string, unknown> | null {
    this.position.assertOpen();
    return readSalvageReport(this.meta);
  }

  /** Every loss so far, per series and reason (persistent across restarts). */
  losses(): LossCount[] {
    this.position.assertOpen();
    return this.lossLedger.all();
  }

  /** Distinct series names with their latest unit, for `/api/series`. */
  seriesNames(): string[] {
    return this.catalog.names();
  }

  /** Closes at once; a commit thread finishes closing in the background (prefer `closeAsync`). */
  close(): void {
    if (this.position.closed) return;
    this.position.closed = true;
    void this.writer?.close();
    this.db.close();
  }

  /** Closes and resolves once the commit thread's connection is closed too (files settled). */
  async closeAsync(): Promise<void> {
    if (this.position.closed) return;
    this.position.closed = true;
    await this.writer?.close();
    this.db.close();
  }

  /** Maps a failed commit to the error the caller sees; a full disk counts as a refusal. */
  private commitFailed(readings: readonly Reading[], err: unknown): Error {
    const e = err as { code?: string; message?: string };
    if (e.code === 'SQLITE_FULL' || /database or disk is full|SQLITE_FULL/.test(String(e.message))) {
      this.lossLedger.refused(readings);
      return new StoreError('FM_ERR_STORE_FULL', `disk full: ${readings.length} readings refused (${String(e.message)})`);
    }
    return err instanceof Error ? err : new Error(String(err));
  }
}
