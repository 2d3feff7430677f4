import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Reading, ReadingValue } from '@fieldmesh/device-sdk';
import { StoreError } from './errors.js';
import { migrate, SCHEMA_VERSION } from './schema.js';
import { SqliteWriter } from './sqlite-writer.js';
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
  private readonly bytesPerRow: number;
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
  };
  private readonly appendTx: (readings: readonly Reading[], marks: readonly DeviceSeqMark[]) => number;

  /**
   * Opens (or creates) the log at `file`; throws a StoreError when it cannot be made durable.
   * `commitThread`: run `appendAsync` transactions on a worker thread (the gateway does).
   */
  constructor(file: string, opts: { commitThread?: boolean } = {}) {
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
      readAfter: this.db.prepare('SELECT seq, sid, ts, kind, value FROM readings WHERE seq > ? ORDER BY seq LIMIT ?').raw(),
      setMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      tsOf: this.db.prepare('SELECT ts FROM readings WHERE seq > ? ORDER BY seq LIMIT 1').pluck(),
      quarantine: this.db.prepare('INSERT INTO quarantine (first_seq, last_seq, reason, at) VALUES (?, ?, ?, ?)'),
      quarantined: this.db.prepare('SELECT count(*) AS batches, coalesce(sum(last_seq - first_seq + 1), 0) AS readings FROM quarantine'),
    };

    let epoch = getMeta.get('epoch') as string | undefined;
    if (epoch === undefined) {
      // Born with the database: a re-flashed gateway gets a new epoch, so (epoch, seq) never repeats.
      epoch = randomBytes(8).toString('hex');
      this.stmt.setMeta.run('epoch', epoch);
    }
    this.epoch = epoch;
    this.watermark = Number(getMeta.get('ack_watermark') ?? 0);
    this.last = Math.max(this.watermark, Number(this.db.prepare('SELECT max(seq) FROM readings').pluck().get() ?? 0));
    for (const row of this.db.prepare('SELECT id, name, unit FROM series').all() as Array<{ id: number } & SeriesRow>) {
      this.seriesById.set(row.id, { name: row.name, unit: row.unit });
      this.seriesId.set(`${row.name}\u0000${row.unit}`, row.id);
    }
    // Backlog bytes are an estimate: average row size of the table times unsent rows, so that a
    // metrics scrape never scans a million-row backlog.
    const pages = Number(this.db.pragma('page_count', { simple: true })) * Number(this.db.pragma('page_size', { simple: true }));
    const rows = Number(this.db.prepare('SELECT count(*) FROM readings').pluck().get());
    this.bytesPerRow = rows > 1000 ? Math.max(8, Math.round(pages / rows)) : 32;

    this.appendTx = this.db.transaction((readings: readonly Reading[], marks: readonly DeviceSeqMark[]) => {
      let seq = this.last;
      const params: Array<number | string> = [];
      for (const r of readings) {
        seq++;
        const v = r.value;
        params.push(seq, this.internSeries(r.series, r.unit ?? ''), r.ts);
        if (typeof v === 'number') params.push(KIND_NUMBER, v);
        else if (typeof v === 'boolean') params.push(KIND_BOOLEAN, v ? 1 : 0);
        else params.push(KIND_STRING, v);
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
    const newSeries = this.seriesId.size;
    try {
      this.last = this.appendTx(readings, marks);
    } catch (err) {
      // A rolled-back transaction also rolled back any series it interned.
      if (this.seriesId.size !== newSeries) this.reloadSeries();
      throw err;
    }
    return { firstSeq, lastSeq: this.last };
  }

  async appendAsync(readings: readonly Reading[], marks: readonly DeviceSeqMark[] = []): Promise<{ firstSeq: number; lastSeq: number }> {
    if (!this.writer) return this.append(readings, marks);
    this.assertOpen();
    if (this.asyncInFlight) throw new StoreError('FM_ERR_STORE_BUSY', 'appendAsync while another is in flight');
    for (const r of readings) checkReading(r);
    const firstSeq = this.last + 1;
    if (readings.length === 0 && marks.length === 0) return { firstSeq, lastSeq: this.last };
    this.asyncInFlight = true;
    try {
      // Sequence numbers are assigned here and become visible (lastSeq) only once committed;
      // one commit in flight at a time keeps them contiguous even when a commit fails.
      await this.writer.commit(firstSeq, readings, marks, DEVICE_SEQ_WINDOW);
      this.last = firstSeq + readings.length - 1;
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
    const rows = this.stmt.readAfter.all(afterSeq, limit) as Array<[number, number, number, number, number | string]>;
    const out: LoggedReading[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [seq, sid, ts, kind, raw] = rows[i]!;
      // The commit thread interns series on its own connection: learn new ones on first sight.
      if (!this.seriesById.has(sid)) this.reloadSeries();
      const s = this.seriesById.get(sid)!;
      const value: ReadingValue = kind === KIND_BOOLEAN ? raw === 1 : kind === KIND_STRING ? String(raw) : Number(raw);
      const r: LoggedReading = { seq, series: s.name, ts, value };
      if (s.unit !== '') r.unit = s.unit;
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
    this.stmt.setMeta.run('ack_watermark', String(to));
    this.watermark = to;
  }

  quarantine(firstSeq: number, lastSeq: number, reason: string): void {
    this.assertOpen();
    this.db.transaction(() => {
      this.stmt.quarantine.run(firstSeq, lastSeq, reason.slice(0, 500), Date.now());
      if (lastSeq > this.watermark) this.stmt.setMeta.run('ack_watermark', String(Math.min(lastSeq, this.last)));
    })();
    if (lastSeq > this.watermark) this.watermark = Math.min(lastSeq, this.last);
  }

  quarantined(): QuarantineStats {
    this.assertOpen();
    return this.stmt.quarantined.get() as QuarantineStats;
  }

  backlog(): Backlog {
    this.assertOpen();
    const readings = this.last - this.watermark;
    const oldest = readings > 0 ? (this.stmt.tsOf.get(this.watermark) as number | undefined) : undefined;
    return { readings, bytes: readings * this.bytesPerRow, oldestUnsentTs: oldest ?? null };
  }

  /** The connection's journal mode and synchronous level, as SQLite reports them now. */
  durability(): { journalMode: string; synchronous: number } {
    this.assertOpen();
    return {
      journalMode: String(this.db.pragma('journal_mode', { simple: true })),
      synchronous: Number(this.db.pragma('synchronous', { simple: true })),
    };
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
