import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Reading, ReadingValue } from '@fieldmesh/device-sdk';
import { StoreError } from './errors.js';
import { ensureIncrementalVacuum, migrate, SCHEMA_VERSION } from './schema.js';
import { addLoss, DOWNSAMPLE_STATS, DOWNSAMPLE_SUFFIX, splitLossKey, type LossCount, type LossReason } from './loss-ledger.js';
import { addValue, emptyAggregate, type Aggregate } from '../rollups/bucket.js';
import { SqliteWriter } from './sqlite-writer.js';
import { readBootId, type ClockHealth } from './clock-health.js';
import { systemClock, type Clock } from '@fieldmesh/device-sdk';
import {
  DEVICE_SEQ_WINDOW,
  type Backlog,
  type DeviceSeqMark,
  type LoggedReading,
  type QuarantineStats,
  type ReadingLog,
} from './reading-log.js';

/** `synchronous` values as `PRAGMA synchronous` reports them. */
const SYNCHRONOUS_FULL = 2;
const KIND_NUMBER = 0;
const KIND_BOOLEAN = 1;
const KIND_STRING = 2;
/** Rows per multi-row INSERT: one statement step per 32 rows halves the per-row cost. */
const INSERT_ROWS = 32;
/**
 * What one row costs in the backlog's byte count: seq, series id, ts and kind (16) plus the value.
 * The same formula in SQL (ROW_BYTES_SQL) and JS (rowBytes) keeps the count exact when kept
 * incrementally: added at append, subtracted for the range an ack or a delete covers.
 */
const ROW_BYTES_SQL = '(16 + CASE kind WHEN 2 THEN length(CAST(value AS BLOB)) WHEN 1 THEN 1 ELSE 8 END)';
export function rowBytes(v: ReadingValue): number {
  return 16 + (typeof v === 'string' ? Buffer.byteLength(v) : typeof v === 'boolean' ? 1 : 8);
}
/**
 * WAL bytes kept after a checkpoint: without a limit the WAL file stays at its high-water size
 * for ever, which the budget would have to carry. 4 MiB is ~1,000 pages, the autocheckpoint size.
 */
const JOURNAL_SIZE_LIMIT = 4 * 1024 * 1024;
const MINUTE_MS = 60_000;

/** Stored with readings appended while the wall clock is not known good (clock-health.ts). */
export interface UncertainStamp {
  boot: number;
  mono: number;
  /** wall − monotonic at append; a sync tells the true offset, the difference corrects ts. */
  wallOff: number;
}
/** How often the last known good wall time is persisted (a floor for the next boot's check). */
const LAST_GOOD_PERSIST_MS = 60_000;

interface SeriesRow {
  name: string;
  unit: string;
}

/**
 * The reading log in one SQLite file (WAL, synchronous=FULL). Every append is one transaction;
 * when `append` returns, the readings survive kill -9 and power loss (if the disk honours fsync).
 */
export class SqliteReadingLog implements ReadingLog {
  readonly epoch: string;
  /** Schema version found at open (0: database born now). */
  readonly openedAtVersion: number;
  private readonly db: Database.Database;
  private readonly seriesById = new Map<number, SeriesRow>();
  private readonly seriesId = new Map<string, number>();
  private last: number;
  private watermark: number;
  /** Rows above the watermark, rows in all, and their bytes (ROW_BYTES_SQL): kept incrementally. */
  private unsentRows: number;
  private unsentBytes: number;
  private rowCount: number;
  /** Losses not yet written (a refusal while the disk is full cannot be written at once). */
  private readonly pendingLoss = new Map<string, number>();
  private admissionOpen = true;
  private readonly file: string;
  private readonly clock: Clock;
  private readonly clockHealth: ClockHealth | null;
  private readonly bootId: string;
  private bootRow = 0;
  private lastGoodWall: number;
  private lastGoodPersistedAt = -Infinity;
  private clockWasGood = true;
  private closed = false;
  private readonly writer: SqliteWriter | null = null;
  private asyncInFlight = false;
  private readonly stmt: {
    insert: Database.Statement;
    insertMany: Database.Statement;
    insertSeries: Database.Statement;
    seriesByKey: Database.Statement;
    mark: Database.Statement;
    pruneMarks: Database.Statement;
    maxMark: Database.Statement;
    seen: Database.Statement;
    readAfter: Database.Statement;
    setMeta: Database.Statement;
    tsOf: Database.Statement;
    quarantine: Database.Statement;
    quarantined: Database.Statement;
    rangeBytes: Database.Statement;
    perSeries: Database.Statement;
    nthAfter: Database.Statement;
    deleteRange: Database.Statement;
    deleteOne: Database.Statement;
    rawNumbers: Database.Statement;
    addLoss: Database.Statement;
    losses: Database.Statement;
    downsampled: Database.Statement;
    insertUncertain: Database.Statement;
    correct: Database.Statement;
    uncertainCount: Database.Statement;
  };
  private readonly appendTx: (readings: readonly Reading[], marks: readonly DeviceSeqMark[], stamp?: UncertainStamp | null) => number;

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
    this.file = file;
    this.clock = opts.clock ?? systemClock;
    this.bootId = opts.bootId ?? readBootId();
    try {
      this.db = new Database(file);
    } catch (err) {
      throw new StoreError('FM_ERR_STORE_OPEN', `cannot open ${file}: ${(err as Error).message}`);
    }
    try {
      this.db.pragma('journal_mode = WAL');
      // better-sqlite3 reopens a WAL database at NORMAL: set FULL on every open and read it back.
      this.db.pragma('synchronous = FULL');
      const mode = this.db.pragma('journal_mode', { simple: true });
      const sync = this.db.pragma('synchronous', { simple: true });
      if (mode !== 'wal' || sync !== SYNCHRONOUS_FULL) {
        throw new StoreError('FM_ERR_STORE_DURABILITY', `${file}: journal_mode=${String(mode)} synchronous=${String(sync)}`);
      }
      this.db.pragma('busy_timeout = 5000');
      const found = this.db.prepare('SELECT 1 FROM sqlite_master WHERE name = ?').get('schema_version')
        ? ((this.db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0)
        : 0;
      if (found > SCHEMA_VERSION) throw new StoreError('FM_ERR_STORE_SCHEMA', `${file} has schema version ${found}, this build knows ${SCHEMA_VERSION}`);
      ensureIncrementalVacuum(this.db);
      this.db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
      this.openedAtVersion = migrate(this.db);
    } catch (err) {
      this.db.close();
      throw err;
    }
    const getMeta = this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
    this.stmt = {
      insert: this.db.prepare('INSERT INTO readings (seq, sid, ts, kind, value) VALUES (?, ?, ?, ?, ?)'),
      insertMany: this.db.prepare(`INSERT INTO readings (seq, sid, ts, kind, value) VALUES ${Array(INSERT_ROWS).fill('(?, ?, ?, ?, ?)').join(', ')}`),
      insertSeries: this.db.prepare('INSERT OR IGNORE INTO series (name, unit) VALUES (?, ?)'),
      seriesByKey: this.db.prepare('SELECT id FROM series WHERE name = ? AND unit = ?').pluck(),
      // REPLACE: the same number with new content (a restarted counter) takes over the mark.
      mark: this.db.prepare('INSERT OR REPLACE INTO device_seq (device, seq, digest) VALUES (?, ?, ?)'),
      pruneMarks: this.db.prepare('DELETE FROM device_seq WHERE device = ? AND seq < ?'),
      maxMark: this.db.prepare('SELECT max(seq) FROM device_seq WHERE device = ?').pluck(),
      seen: this.db.prepare('SELECT digest FROM device_seq WHERE device = ? AND seq = ?').raw(),
      readAfter: this.db.prepare('SELECT seq, sid, ts, kind, value, wall_off FROM readings WHERE seq > ? ORDER BY seq LIMIT ?').raw(),
      insertUncertain: this.db.prepare('INSERT INTO readings (seq, sid, ts, kind, value, boot, mono, wall_off) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      correct: this.db.prepare('UPDATE readings SET ts = ts + (? - wall_off), boot = NULL, mono = NULL, wall_off = NULL WHERE boot = ?'),
      uncertainCount: this.db.prepare('SELECT count(*) FROM readings WHERE boot IS NOT NULL').pluck(),
      setMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      tsOf: this.db.prepare('SELECT ts FROM readings WHERE seq > ? ORDER BY seq LIMIT 1').pluck(),
      quarantine: this.db.prepare('INSERT INTO quarantine (first_seq, last_seq, reason, at) VALUES (?, ?, ?, ?)'),
      quarantined: this.db.prepare('SELECT count(*) AS batches, coalesce(sum(last_seq - first_seq + 1), 0) AS readings FROM quarantine'),
      rangeBytes: this.db.prepare(`SELECT count(*) AS n, coalesce(sum(${ROW_BYTES_SQL}), 0) AS b FROM readings WHERE seq > ? AND seq <= ?`),
      perSeries: this.db.prepare(`SELECT sid, count(*), sum(${ROW_BYTES_SQL}) FROM readings WHERE seq > ? AND seq <= ? GROUP BY sid`).raw(),
      nthAfter: this.db.prepare('SELECT seq FROM readings WHERE seq > ? ORDER BY seq LIMIT 1 OFFSET ?').pluck(),
      deleteRange: this.db.prepare('DELETE FROM readings WHERE seq > ? AND seq <= ?'),
      deleteOne: this.db.prepare('DELETE FROM readings WHERE seq = ?'),
      rawNumbers: this.db.prepare(
        `SELECT seq, sid, ts, value FROM readings WHERE seq > ? AND kind = ${KIND_NUMBER} AND sid NOT IN (SELECT id FROM series WHERE instr(name, '${DOWNSAMPLE_SUFFIX}:') > 0) ORDER BY seq LIMIT ?`,
      ).raw(),
      addLoss: this.db.prepare('INSERT INTO loss (series, reason, count) VALUES (?, ?, ?) ON CONFLICT (series, reason) DO UPDATE SET count = count + excluded.count'),
      losses: this.db.prepare('SELECT series, reason, count FROM loss ORDER BY series, reason'),
      downsampled: this.db.prepare('INSERT INTO downsampled (first_seq, last_seq, readings, rollup_first, rollup_last, at) VALUES (?, ?, ?, ?, ?, ?)'),
    };

    let epoch = getMeta.get('epoch') as string | undefined;
    if (epoch === undefined) {
      // Born with the database: a re-flashed gateway gets a new epoch, so (epoch, seq) never repeats.
      epoch = randomBytes(8).toString('hex');
      this.stmt.setMeta.run('epoch', epoch);
    }
    this.epoch = epoch;
    this.watermark = Number(getMeta.get('ack_watermark') ?? 0);
    // seq_floor: the highest seq ever handed out, kept when deletes emptied the tail of the table.
    this.last = Math.max(this.watermark, Number(getMeta.get('seq_floor') ?? 0), Number(this.db.prepare('SELECT max(seq) FROM readings').pluck().get() ?? 0));
    for (const row of this.db.prepare('SELECT id, name, unit FROM series').all() as Array<{ id: number } & SeriesRow>) {
      this.seriesById.set(row.id, { name: row.name, unit: row.unit });
      this.seriesId.set(`${row.name}\u0000${row.unit}`, row.id);
    }
    // Counted once at open (one scan), then kept incrementally, so a scrape never scans.
    this.rowCount = Number(this.db.prepare('SELECT count(*) FROM readings').pluck().get());
    const unsent = this.db.prepare(`SELECT count(*) AS n, coalesce(sum(${ROW_BYTES_SQL}), 0) AS b FROM readings WHERE seq > ?`).get(this.watermark) as { n: number; b: number };
    this.unsentRows = unsent.n;
    this.unsentBytes = unsent.b;

    this.lastGoodWall = Number(getMeta.get('last_good_wall') ?? 0);
    this.clockHealth = typeof opts.clockHealth === 'function' ? opts.clockHealth(() => this.lastGoodWall) : (opts.clockHealth ?? null);

    this.appendTx = this.db.transaction((readings: readonly Reading[], marks: readonly DeviceSeqMark[], stamp?: UncertainStamp | null) => {
      let seq = this.last;
      const params: Array<number | string> = [];
      for (const r of readings) {
        seq++;
        const v = r.value;
        params.push(seq, this.internSeries(r.series, r.unit ?? ''), r.ts);
        if (typeof v === 'number') params.push(KIND_NUMBER, v);
        else if (typeof v === 'boolean') params.push(KIND_BOOLEAN, v ? 1 : 0);
        else params.push(KIND_STRING, v);
        if (stamp) {
          // Rare (until the first clock sync): one row at a time is fine.
          this.stmt.insertUncertain.run(params[0], params[1], params[2], params[3], params[4], stamp.boot, stamp.mono, stamp.wallOff);
          params.length = 0;
          continue;
        }
        if (params.length === INSERT_ROWS * 5) {
          this.stmt.insertMany.run(params);
          params.length = 0;
        }
      }
      for (let i = 0; i < params.length; i += 5) this.stmt.insert.run(params[i], params[i + 1], params[i + 2], params[i + 3], params[i + 4]);
      const touched = new Set<string>();
      for (const m of marks) {
        this.stmt.mark.run(m.device, m.seq, m.digest ?? null);
        touched.add(m.device);
      }
      for (const device of touched) {
        const max = this.stmt.maxMark.get(device) as number;
        this.stmt.pruneMarks.run(device, max - DEVICE_SEQ_WINDOW);
      }
      return seq;
    });
    if (opts.commitThread) this.writer = new SqliteWriter(file);
  }

  append(readings: readonly Reading[], marks: readonly DeviceSeqMark[] = []): { firstSeq: number; lastSeq: number } {
    this.assertOpen();
    if (this.asyncInFlight) throw new StoreError('FM_ERR_STORE_BUSY', 'append while appendAsync is in flight');
    for (const r of readings) checkReading(r);
    const firstSeq = this.last + 1;
    if (readings.length === 0 && marks.length === 0) return { firstSeq, lastSeq: this.last };
    this.admit(readings);
    const stamp = this.stampNow();
    const newSeries = this.seriesId.size;
    try {
      this.last = this.appendTx(readings, marks, stamp);
    } catch (err) {
      // A rolled-back transaction also rolled back any series it interned.
      if (this.seriesId.size !== newSeries) this.reloadSeries();
      throw this.commitFailed(readings, err);
    }
    this.appended(readings);
    return { firstSeq, lastSeq: this.last };
  }

  async appendAsync(readings: readonly Reading[], marks: readonly DeviceSeqMark[] = []): Promise<{ firstSeq: number; lastSeq: number }> {
    if (!this.writer) return this.append(readings, marks);
    this.assertOpen();
    if (this.asyncInFlight) throw new StoreError('FM_ERR_STORE_BUSY', 'appendAsync while another is in flight');
    for (const r of readings) checkReading(r);
    const firstSeq = this.last + 1;
    if (readings.length === 0 && marks.length === 0) return { firstSeq, lastSeq: this.last };
    this.admit(readings);
    const stamp = this.stampNow();
    this.asyncInFlight = true;
    try {
      // Sequence numbers are assigned here and become visible (lastSeq) only once committed;
      // one commit in flight at a time keeps them contiguous even when a commit fails.
      try {
        await this.writer.commit(firstSeq, readings, marks, DEVICE_SEQ_WINDOW, stamp);
      } catch (err) {
        throw this.commitFailed(readings, err);
      }
      this.last = firstSeq + readings.length - 1;
      this.appended(readings);
    } finally {
      this.asyncInFlight = false;
    }
    return { firstSeq, lastSeq: this.last };
  }

  seenDeviceSeq(device: string, seq: number, digest?: string): boolean {
    this.assertOpen();
    const row = this.stmt.seen.get(device, seq) as [string | null] | undefined;
    if (row === undefined) return false;
    return digest === undefined || row[0] === null || row[0] === digest;
  }

  readAfter(afterSeq: number, limit: number): LoggedReading[] {
    this.assertOpen();
    const rows = this.stmt.readAfter.all(afterSeq, limit) as Array<[number, number, number, number, number | string, number | null]>;
    const out: LoggedReading[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [seq, sid, ts, kind, raw, wallOff] = rows[i]!;
      // The commit thread interns series on its own connection: learn new ones on first sight.
      if (!this.seriesById.has(sid)) this.reloadSeries();
      const s = this.seriesById.get(sid)!;
      const value: ReadingValue = kind === KIND_BOOLEAN ? raw === 1 : kind === KIND_STRING ? String(raw) : Number(raw);
      const r: LoggedReading = { seq, series: s.name, ts, value };
      if (s.unit !== '') r.unit = s.unit;
      if (wallOff !== null) r.uncertain = true;
      out[i] = r;
    }
    return out;
  }

  lastSeq(): number {
    return this.last;
  }

  ackWatermark(): number {
    return this.watermark;
  }

  advanceAckWatermark(seq: number): void {
    this.assertOpen();
    if (!(seq > this.watermark)) return;
    const to = Math.min(seq, this.last);
    const acked = this.stmt.rangeBytes.get(this.watermark, to) as { n: number; b: number };
    this.stmt.setMeta.run('ack_watermark', String(to));
    this.watermark = to;
    this.unsentRows -= acked.n;
    this.unsentBytes -= acked.b;
  }

  quarantine(firstSeq: number, lastSeq: number, reason: string): void {
    this.assertOpen();
    const to = Math.min(lastSeq, this.last);
    let acked = { n: 0, b: 0 };
    this.db.transaction(() => {
      this.stmt.quarantine.run(firstSeq, lastSeq, reason.slice(0, 500), Date.now());
      const lost = new Map<string, number>();
      for (const [sid, n] of this.stmt.perSeries.all(Math.max(firstSeq - 1, this.watermark), lastSeq) as Array<[number, number, number]>) addLoss(lost, this.seriesName(sid), 'quarantined', n);
      this.writeLoss(lost);
      if (to > this.watermark) {
        acked = this.stmt.rangeBytes.get(this.watermark, to) as { n: number; b: number };
        this.stmt.setMeta.run('ack_watermark', String(to));
      }
    })();
    if (to > this.watermark) {
      this.watermark = to;
      this.unsentRows -= acked.n;
      this.unsentBytes -= acked.b;
    }
  }

  quarantined(): QuarantineStats {
    this.assertOpen();
    return this.stmt.quarantined.get() as QuarantineStats;
  }

  backlog(): Backlog {
    this.assertOpen();
    const oldest = this.unsentRows > 0 ? (this.stmt.tsOf.get(this.watermark) as number | undefined) : undefined;
    return { readings: this.unsentRows, bytes: this.unsentBytes, oldestUnsentTs: oldest ?? null };
  }

  /** The connection's journal mode and synchronous level, as SQLite reports them now. */
  durability(): { journalMode: string; synchronous: number } {
    this.assertOpen();
    return {
      journalMode: String(this.db.pragma('journal_mode', { simple: true })),
      synchronous: Number(this.db.pragma('synchronous', { simple: true })),
    };
  }

  // ── Storage budget (storage-budget.ts decides; these are its tools) ─────────────────────────

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
    return { stored: this.rowCount, unsent: this.unsentRows };
  }

  /** A commit is in flight on the commit thread: budget work (which writes) must wait for it. */
  busy(): boolean {
    return this.asyncInFlight;
  }

  /** reject-new: while closed, appends are refused (counted) and throw FM_ERR_STORE_FULL. */
  setAdmission(open: boolean): void {
    this.admissionOpen = open;
  }

  admitting(): boolean {
    return this.admissionOpen;
  }

  /**
   * Deletes up to `maxRows` of the oldest rows the cloud already acknowledged (not a loss: they
   * are upstream). Returns how many went.
   */
  pruneAcked(maxRows: number): number {
    this.assertBudgetWork();
    if (this.rowCount - this.unsentRows <= 0 || maxRows <= 0) return 0;
    const nth = this.stmt.nthAfter.get(0, maxRows - 1) as number | undefined;
    const cutoff = Math.min(this.watermark, nth ?? this.watermark);
    const n = this.db.transaction(() => {
      this.stmt.setMeta.run('seq_floor', String(this.last));
      return this.stmt.deleteRange.run(0, cutoff).changes;
    })();
    this.rowCount -= n;
    return n;
  }

  /** Deletes up to `maxRows` of the oldest unsent rows (seq order), counted as `reason`. */
  evictUnsent(maxRows: number, reason: LossReason): number {
    this.assertBudgetWork();
    if (this.unsentRows <= 0 || maxRows <= 0) return 0;
    const nth = this.stmt.nthAfter.get(this.watermark, maxRows - 1) as number | undefined;
    const cutoff = nth ?? this.last;
    let gone = { n: 0, b: 0 };
    this.db.transaction(() => {
      const lost = new Map<string, number>();
      for (const [sid, n, b] of this.stmt.perSeries.all(this.watermark, cutoff) as Array<[number, number, number]>) {
        addLoss(lost, this.seriesName(sid), reason, n);
        gone = { n: gone.n + n, b: gone.b + b };
      }
      this.writeLoss(lost);
      this.stmt.setMeta.run('seq_floor', String(this.last));
      this.stmt.deleteRange.run(this.watermark, cutoff);
    })();
    this.rowCount -= gone.n;
    this.unsentRows -= gone.n;
    this.unsentBytes -= gone.b;
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
    this.assertBudgetWork();
    const rows = this.stmt.rawNumbers.all(this.watermark, maxRows) as Array<[number, number, number, number]>;
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
      const s = this.seriesById.get(g.sid) ?? (this.reloadSeries(), this.seriesById.get(g.sid)!);
      const base = `${s.name}${DOWNSAMPLE_SUFFIX}`;
      const unit = s.unit !== '' ? { unit: s.unit } : {};
      rollups.push({ series: `${base}:min`, ts: g.bucket, value: g.agg.min, ...unit });
      rollups.push({ series: `${base}:max`, ts: g.bucket, value: g.agg.max, ...unit });
      rollups.push({ series: `${base}:avg`, ts: g.bucket, value: g.agg.sum / g.agg.count, ...unit });
      rollups.push({ series: `${base}:count`, ts: g.bucket, value: g.agg.count });
    }
    const firstRollup = this.last + 1;
    const newSeries = this.seriesId.size;
    try {
      this.last = this.db.transaction(() => {
        const lost = new Map<string, number>();
        for (const [seq, sid] of rows) {
          this.stmt.deleteOne.run(seq);
          addLoss(lost, this.seriesName(sid), 'downsampled', 1);
        }
        this.writeLoss(lost);
        const last = this.appendTx(rollups, []);
        this.stmt.downsampled.run(rows[0]![0], rows.at(-1)![0], rows.length, firstRollup, last, Date.now());
        return last;
      })();
    } catch (err) {
      if (this.seriesId.size !== newSeries) this.reloadSeries();
      throw err;
    }
    const removed = rows.length * rowBytes(0);
    this.rowCount += rollups.length - rows.length;
    this.unsentRows += rollups.length - rows.length;
    this.unsentBytes += rollups.reduce((n, r) => n + rowBytes(r.value), 0) - removed;
    return { replaced: rows.length, rollups: rollups.length };
  }

  /** Gives freed pages back to the file system and truncates the WAL (budget on disk). */
  reclaim(): void {
    this.assertBudgetWork();
    this.db.pragma('incremental_vacuum');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /**
   * Bounds the WAL to about `bytes` (the budget counts it): autocheckpoint after that many pages,
   * and truncate to it after a checkpoint. The commit thread's connection keeps its own
   * autocheckpoint; the budget's checks checkpoint for it (StorageBudget.enforce).
   */
  limitWal(bytes: number): void {
    this.assertOpen();
    const page = Number(this.db.pragma('page_size', { simple: true }));
    this.db.pragma(`wal_autocheckpoint = ${Math.max(16, Math.min(1000, Math.floor(bytes / page)))}`);
    this.db.pragma(`journal_size_limit = ${Math.max(64 * 1024, Math.min(JOURNAL_SIZE_LIMIT, bytes))}`);
  }

  /** Checkpoint when idle (SD cards: fewer, larger writes than autocheckpoint under load). */
  checkpoint(): void {
    if (this.closed || this.asyncInFlight) return;
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  /**
   * The wall clock became good: readings of this boot stored while it was not get
   * ts += (true wall − mono) − (wall − mono at append), i.e. wall = sync wall − (sync mono − mono)
   * for a reading stamped at append. Readings of earlier boots stay marked uncertain.
   * Returns how many were corrected.
   */
  correctClock(syncWall: number, syncMono: number): number {
    this.assertOpen();
    if (this.bootRow === 0 || this.asyncInFlight) return 0;
    return this.stmt.correct.run(syncWall - syncMono, this.bootRow).changes;
  }

  /** The report of the salvage this database was born from (salvage.ts), if any. */
  salvageReport(): Record<string, unknown> | null {
    this.assertOpen();
    const v = this.db.prepare("SELECT value FROM meta WHERE key = 'salvage'").pluck().get() as string | undefined;
    return v === undefined ? null : (JSON.parse(v) as Record<string, unknown>);
  }

  /** Whether the wall clock is trusted now, and how many stored readings carry an uncertain time. */
  clockState(): { knownGood: boolean; uncertainReadings: number; bootId: string } {
    this.assertOpen();
    return { knownGood: this.clockWasGood, uncertainReadings: Number(this.stmt.uncertainCount.get()), bootId: this.bootId };
  }

  /** Every loss so far, per series and reason (persistent across restarts). */
  losses(): LossCount[] {
    this.assertOpen();
    this.flushPendingLoss();
    const out = this.stmt.losses.all() as LossCount[];
    if (this.pendingLoss.size === 0) return out;
    // Still unwritten (disk full): shown anyway, written once space returns.
    const merged = new Map(out.map((l) => [`${l.reason}\u0000${l.series}`, l.count]));
    for (const [k, n] of this.pendingLoss) merged.set(k, (merged.get(k) ?? 0) + n);
    return [...merged].map(([k, count]) => ({ ...splitLossKey(k), count }));
  }

  /** Distinct series names with their latest unit, for `/api/series`. */
  seriesNames(): string[] {
    return [...new Set([...this.seriesById.values()].map((s) => s.name))].sort();
  }

  /** Closes at once; a commit thread finishes closing in the background (prefer `closeAsync`). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.writer?.close();
    this.db.close();
  }

  /** Closes and resolves once the commit thread's connection is closed too (files settled). */
  async closeAsync(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer?.close();
    this.db.close();
  }

  private internSeries(name: string, unit: string): number {
    const key = `${name}\u0000${unit}`;
    let id = this.seriesId.get(key);
    if (id === undefined) {
      this.stmt.insertSeries.run(name, unit);
      id = this.stmt.seriesByKey.get(name, unit) as number;
      this.seriesId.set(key, id);
      this.seriesById.set(id, { name, unit });
    }
    return id;
  }

  /**
   * Null while the wall clock is good (the usual row: no extra columns). On the first good
   * reading after a bad stretch, corrects this boot's uncertain readings first.
   */
  private stampNow(): UncertainStamp | null {
    if (!this.clockHealth) return null;
    const wall = this.clock.now();
    const mono = this.clock.monotonic();
    if (this.clockHealth.wallKnownGood(wall)) {
      if (!this.clockWasGood) {
        this.clockWasGood = true;
        if (!this.asyncInFlight) this.correctClock(wall, mono);
      }
      if (wall > this.lastGoodWall) this.lastGoodWall = wall;
      if (mono - this.lastGoodPersistedAt >= LAST_GOOD_PERSIST_MS && !this.asyncInFlight) {
        this.lastGoodPersistedAt = mono;
        this.stmt.setMeta.run('last_good_wall', String(this.lastGoodWall));
      }
      return null;
    }
    this.clockWasGood = false;
    if (this.bootRow === 0) {
      this.db.prepare('INSERT OR IGNORE INTO boots (boot_id) VALUES (?)').run(this.bootId);
      this.bootRow = Number(this.db.prepare('SELECT id FROM boots WHERE boot_id = ?').pluck().get(this.bootId));
    }
    return { boot: this.bootRow, mono, wallOff: wall - mono };
  }

  private admit(readings: readonly Reading[]): void {
    if (this.admissionOpen) return;
    this.refused(readings);
    throw new StoreError('FM_ERR_STORE_FULL', `storage budget reached (policy reject-new): ${readings.length} readings refused`);
  }

  /** Maps a failed commit to the error the caller sees; a full disk counts as a refusal. */
  private commitFailed(readings: readonly Reading[], err: unknown): Error {
    const e = err as { code?: string; message?: string };
    if (e.code === 'SQLITE_FULL' || /database or disk is full|SQLITE_FULL/.test(String(e.message))) {
      this.refused(readings);
      return new StoreError('FM_ERR_STORE_FULL', `disk full: ${readings.length} readings refused (${String(e.message)})`);
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  private refused(readings: readonly Reading[]): void {
    for (const r of readings) addLoss(this.pendingLoss, r.series, 'refused', 1);
    this.flushPendingLoss();
  }

  private appended(readings: readonly Reading[]): void {
    let b = 0;
    for (const r of readings) b += rowBytes(r.value);
    this.rowCount += readings.length;
    this.unsentRows += readings.length;
    this.unsentBytes += b;
  }

  /** Writes pending losses; on failure (disk full) they stay pending and are shown anyway. */
  private flushPendingLoss(): void {
    if (this.pendingLoss.size === 0 || this.asyncInFlight || this.closed) return;
    try {
      this.db.transaction(() => this.writeLoss(this.pendingLoss))();
      this.pendingLoss.clear();
    } catch {
      // kept pending
    }
  }

  private writeLoss(lost: ReadonlyMap<string, number>): void {
    for (const [k, n] of lost) {
      const { series, reason } = splitLossKey(k);
      this.stmt.addLoss.run(series, reason, n);
    }
  }

  private seriesName(sid: number): string {
    if (!this.seriesById.has(sid)) this.reloadSeries();
    return this.seriesById.get(sid)?.name ?? `?/${sid}`;
  }

  private assertBudgetWork(): void {
    this.assertOpen();
    if (this.asyncInFlight) throw new StoreError('FM_ERR_STORE_BUSY', 'storage budget work while a commit is in flight');
  }

  private reloadSeries(): void {
    this.seriesId.clear();
    this.seriesById.clear();
    for (const row of this.db.prepare('SELECT id, name, unit FROM series').all() as Array<{ id: number } & SeriesRow>) {
      this.seriesById.set(row.id, { name: row.name, unit: row.unit });
      this.seriesId.set(`${row.name}\u0000${row.unit}`, row.id);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('FM_ERR_STORE_CLOSED', 'reading log is closed');
  }
}

/** The last line of defence: ingest validates, but a bad row must never enter the outbox. */
export function checkReading(r: Reading): void {
  const ok =
    typeof r.series === 'string' &&
    r.series.indexOf('/') > 0 &&
    Number.isSafeInteger(r.ts) &&
    (typeof r.value === 'boolean' || typeof r.value === 'string' || (typeof r.value === 'number' && Number.isFinite(r.value))) &&
    (r.unit === undefined || typeof r.unit === 'string');
  if (!ok) throw new StoreError('FM_ERR_STORE_INPUT', `bad reading ${JSON.stringify(r).slice(0, 200)}`);
}
