import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { WireReading } from '@fieldmesh/protocol';
import { openSqlite } from '@fieldmesh/device-sdk/sqlite';
import { CloudError } from '../errors.js';
import { conflictError, type CloudStore, type CommitResult, type GatewayRecord, type ReadingQuery, type SeriesInfo, type StoredReading } from './cloud-store.js';

// SQLite turns NaN into NULL and -0 into 0: those two get their own kinds so they come back exact.
const KIND_NUMBER = 0;
const KIND_BOOLEAN = 1;
const KIND_STRING = 2;
const KIND_NAN = 3;
const KIND_NEG_ZERO = 4;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS gateways (
  id TEXT PRIMARY KEY, online INTEGER NOT NULL DEFAULT 0, last_contact INTEGER, epoch TEXT,
  acked_seq INTEGER NOT NULL DEFAULT 0, reported_backlog INTEGER, readings INTEGER NOT NULL DEFAULT 0, status TEXT);
CREATE TABLE IF NOT EXISTS streams (id INTEGER PRIMARY KEY, gateway TEXT NOT NULL, epoch TEXT NOT NULL, UNIQUE (gateway, epoch));
CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY, gateway TEXT NOT NULL, name TEXT NOT NULL, unit TEXT NOT NULL,
  count INTEGER NOT NULL DEFAULT 0, last_ts INTEGER, last_kind INTEGER, last_value,
  UNIQUE (gateway, name, unit));
-- The unique (gateway, epoch, seq) key (docs/ARCHITECTURE.md, glossary), with (gateway, epoch) folded into stream.
CREATE TABLE IF NOT EXISTS readings (
  stream INTEGER NOT NULL, seq INTEGER NOT NULL, sid INTEGER NOT NULL, ts INTEGER NOT NULL,
  kind INTEGER NOT NULL, value, PRIMARY KEY (stream, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_series ON readings (sid, ts);
`;

/** Two stored value columns hold the same value (kinds are compared apart: NaN is stored as a kind). */
function sameColumn(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b));
}

function toColumn(v: number | boolean | string): [number, number | string | null] {
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return [KIND_NAN, null];
    if (Object.is(v, -0)) return [KIND_NEG_ZERO, 0];
    return [KIND_NUMBER, v];
  }
  if (typeof v === 'boolean') return [KIND_BOOLEAN, v ? 1 : 0];
  return [KIND_STRING, v];
}

function fromColumn(kind: number, v: unknown): number | boolean | string {
  switch (kind) {
    case KIND_BOOLEAN:
      return v === 1;
    case KIND_STRING:
      return String(v);
    case KIND_NAN:
      return NaN;
    case KIND_NEG_ZERO:
      return -0;
    default:
      return Number(v);
  }
}

interface GatewayRow {
  id: string;
  online: number;
  last_contact: number | null;
  epoch: string | null;
  acked_seq: number;
  reported_backlog: number | null;
  readings: number;
  status: string | null;
}

/** The cloud store in one SQLite file: WAL, synchronous=FULL checked on open, one transaction per batch. */
export class SqliteCloudStore implements CloudStore {
  private readonly db: Database.Database;
  private readonly streamIds = new Map<string, number>();
  private readonly seriesIds = new Map<string, number>();
  private readonly stmt;
  private readonly commitTx: (gateway: string, epoch: string, readings: readonly WireReading[], at: number) => CommitResult;

  constructor(file: string) {
    const fail = (_kind: string, message: string): Error => new CloudError('FM_ERR_CLOUD_STORE_OPEN', message);
    try {
      mkdirSync(dirname(file), { recursive: true });
    } catch (err) {
      throw fail('open', `cannot open ${file}: ${(err as Error).message}`);
    }
    this.db = openSqlite(Database, file, { fail });
    try {
      this.db.exec(SCHEMA);
    } catch (err) {
      this.db.close();
      throw err;
    }
    const db = this.db;
    this.stmt = {
      stream: db.prepare('SELECT id FROM streams WHERE gateway = ? AND epoch = ?').pluck(),
      addStream: db.prepare('INSERT INTO streams (gateway, epoch) VALUES (?, ?)'),
      series: db.prepare('SELECT id FROM series WHERE gateway = ? AND name = ? AND unit = ?').pluck(),
      addSeries: db.prepare('INSERT INTO series (gateway, name, unit) VALUES (?, ?, ?)'),
      insert: db.prepare('INSERT OR IGNORE INTO readings (stream, seq, sid, ts, kind, value) VALUES (?, ?, ?, ?, ?, ?)'),
      existing: db.prepare('SELECT sid, ts, kind, value FROM readings WHERE stream = ? AND seq = ?'),
      touchSeries: db.prepare(
        `UPDATE series SET count = count + ?,
           last_kind = CASE WHEN last_ts IS NULL OR ? >= last_ts THEN ? ELSE last_kind END,
           last_value = CASE WHEN last_ts IS NULL OR ? >= last_ts THEN ? ELSE last_value END,
           last_ts = CASE WHEN last_ts IS NULL OR ? >= last_ts THEN ? ELSE last_ts END
         WHERE id = ?`,
      ),
      gateway: db.prepare('SELECT * FROM gateways WHERE id = ?'),
      upsertGateway: db.prepare(
        `INSERT INTO gateways (id, online, last_contact, epoch, acked_seq, reported_backlog, readings, status)
         VALUES (@id, @online, @last_contact, @epoch, @acked_seq, @reported_backlog, @readings, @status)
         ON CONFLICT (id) DO UPDATE SET online = excluded.online, last_contact = excluded.last_contact, epoch = excluded.epoch,
           acked_seq = excluded.acked_seq, reported_backlog = excluded.reported_backlog, readings = excluded.readings, status = excluded.status`,
      ),
      gateways: db.prepare('SELECT * FROM gateways ORDER BY id'),
      allSeries: db.prepare('SELECT gateway, name, unit, count, last_ts, last_kind, last_value FROM series WHERE count > 0 ORDER BY gateway, name, last_ts'),
      count: db.prepare('SELECT count(*) FROM readings').pluck(),
    };
    for (const row of db.prepare('SELECT id, gateway, epoch FROM streams').all() as Array<{ id: number; gateway: string; epoch: string }>) {
      this.streamIds.set(`${row.gateway}\u0000${row.epoch}`, row.id);
    }
    for (const row of db.prepare('SELECT id, gateway, name, unit FROM series').all() as Array<{ id: number; gateway: string; name: string; unit: string }>) {
      this.seriesIds.set(`${row.gateway}\u0000${row.name}\u0000${row.unit}`, row.id);
    }
    this.commitTx = db.transaction((gateway: string, epoch: string, readings: readonly WireReading[], at: number) => {
      const stream = this.streamId(gateway, epoch);
      let stored = 0;
      let maxSeq = 0;
      const conflicts: number[] = [];
      const touched = new Map<number, { n: number; ts: number; kind: number; value: number | string | null }>();
      // Most batches carry few series many times: look each up once per batch.
      const local = new Map<string, number>();
      for (const r of readings) {
        const unit = r.unit ?? '';
        const localKey = unit === '' ? r.series : `${r.series}\u0000${unit}`;
        let sid = local.get(localKey);
        if (sid === undefined) local.set(localKey, (sid = this.seriesId(gateway, r.series, unit)));
        const [kind, value] = toColumn(r.value);
        if (this.stmt.insert.run(stream, r.seq, sid, r.ts, kind, value).changes === 0) {
          // Already stored: a resend must be the same reading; anything else is a replacement.
          const old = this.stmt.existing.get(stream, r.seq) as { sid: number; ts: number; kind: number; value: unknown };
          if (old.sid !== sid || old.ts !== r.ts || old.kind !== kind || !sameColumn(old.value, value)) conflicts.push(r.seq);
          continue;
        }
        if (r.seq > maxSeq) maxSeq = r.seq;
        stored++;
        const t = touched.get(sid);
        if (!t) touched.set(sid, { n: 1, ts: r.ts, kind, value });
        else {
          t.n++;
          if (r.ts >= t.ts) Object.assign(t, { ts: r.ts, kind, value });
        }
      }
      // Thrown inside the transaction: it rolls back, so not one row of the batch is stored.
      if (conflicts.length > 0) throw conflictError(gateway, epoch, conflicts);
      for (const [sid, t] of touched) this.stmt.touchSeries.run(t.n, t.ts, t.kind, t.ts, t.value, t.ts, t.ts, sid);
      const g = this.gatewayRecord(gateway);
      const sameEpoch = g.epoch === epoch;
      // Epoch and acked seq move only by rows stored here: a batch of duplicates (a resend, or a
      // relay replaying an old epoch's batch) leaves the record as it was.
      if (stored === 0) this.writeGateway({ ...g, online: true, lastContact: at });
      else this.writeGateway({ ...g, online: true, lastContact: at, epoch, ackedSeq: sameEpoch ? Math.max(g.ackedSeq, maxSeq) : maxSeq, readings: g.readings + stored });
      return { stored, duplicates: readings.length - stored };
    });
  }

  private streamId(gateway: string, epoch: string): number {
    const key = `${gateway}\u0000${epoch}`;
    let id = this.streamIds.get(key);
    if (id === undefined) {
      id = (this.stmt.stream.get(gateway, epoch) as number | undefined) ?? Number(this.stmt.addStream.run(gateway, epoch).lastInsertRowid);
      this.streamIds.set(key, id);
    }
    return id;
  }

  private seriesId(gateway: string, name: string, unit: string): number {
    const key = `${gateway}\u0000${name}\u0000${unit}`;
    let id = this.seriesIds.get(key);
    if (id === undefined) {
      id = (this.stmt.series.get(gateway, name, unit) as number | undefined) ?? Number(this.stmt.addSeries.run(gateway, name, unit).lastInsertRowid);
      this.seriesIds.set(key, id);
    }
    return id;
  }

  private gatewayRecord(id: string): GatewayRecord {
    const row = this.stmt.gateway.get(id) as GatewayRow | undefined;
    return row ? toRecord(row) : { id, online: false, lastContact: null, epoch: null, ackedSeq: 0, reportedBacklog: null, readings: 0, status: null };
  }

  private writeGateway(g: GatewayRecord): void {
    this.stmt.upsertGateway.run({
      id: g.id,
      online: g.online ? 1 : 0,
      last_contact: g.lastContact,
      epoch: g.epoch,
      acked_seq: g.ackedSeq,
      reported_backlog: g.reportedBacklog,
      readings: g.readings,
      status: g.status === null ? null : JSON.stringify(g.status),
    });
  }

  async commitBatch(gateway: string, epoch: string, readings: readonly WireReading[], at: number): Promise<CommitResult> {
    // Rolls back on any throw; the transaction is synchronous so it never spans an await.
    return this.commitTx(gateway, epoch, readings, at);
  }

  async recordStatus(gateway: string, u: { online: boolean; at: number; status?: Record<string, unknown>; reportedBacklog?: number | null }): Promise<void> {
    const g = this.gatewayRecord(gateway);
    this.writeGateway({
      ...g,
      online: u.online,
      lastContact: u.at,
      status: u.status === undefined ? g.status : u.status,
      reportedBacklog: u.reportedBacklog === undefined ? g.reportedBacklog : u.reportedBacklog,
    });
  }

  async gateways(): Promise<GatewayRecord[]> {
    return (this.stmt.gateways.all() as GatewayRow[]).map(toRecord);
  }

  async series(gateway?: string): Promise<SeriesInfo[]> {
    const rows = this.stmt.allSeries.all() as Array<{ gateway: string; name: string; unit: string; count: number; last_ts: number; last_kind: number; last_value: unknown }>;
    const by = new Map<string, SeriesInfo>();
    // Rows come in last_ts order per (gateway, name), so the last one seen is the latest.
    for (const r of rows) {
      if (gateway !== undefined && r.gateway !== gateway) continue;
      const key = `${r.gateway}\u0000${r.name}`;
      const prev = by.get(key);
      const info: SeriesInfo = { gateway: r.gateway, series: r.name, count: r.count + (prev?.count ?? 0), lastTs: r.last_ts, lastValue: fromColumn(r.last_kind, r.last_value) };
      if (r.unit !== '') info.unit = r.unit;
      by.set(key, info);
    }
    return [...by.values()];
  }

  async readings(q: ReadingQuery): Promise<StoredReading[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (q.gateway !== undefined) where.push('s.gateway = ?'), args.push(q.gateway);
    if (q.series !== undefined) where.push('s.name = ?'), args.push(q.series);
    if (q.from !== undefined) where.push('r.ts >= ?'), args.push(q.from);
    if (q.to !== undefined) where.push('r.ts < ?'), args.push(q.to);
    if (q.after !== undefined) where.push('(r.ts, st.gateway, st.epoch, r.seq) > (?, ?, ?, ?)'), args.push(q.after.ts, q.after.gateway, q.after.epoch, q.after.seq);
    const sql = `SELECT st.gateway, st.epoch, r.seq, s.name, s.unit, r.ts, r.kind, r.value
      FROM readings r JOIN series s ON s.id = r.sid JOIN streams st ON st.id = r.stream
      ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY r.ts, st.gateway, st.epoch, r.seq LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, q.limit) as Array<{ gateway: string; epoch: string; seq: number; name: string; unit: string; ts: number; kind: number; value: unknown }>;
    return rows.map((r) => {
      const out: StoredReading = { gateway: r.gateway, epoch: r.epoch, seq: r.seq, series: r.name, ts: r.ts, value: fromColumn(r.kind, r.value) };
      if (r.unit !== '') out.unit = r.unit;
      return out;
    });
  }

  async count(): Promise<number> {
    return Number(this.stmt.count.get());
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function toRecord(row: GatewayRow): GatewayRecord {
  let status: Record<string, unknown> | null = null;
  if (row.status !== null) {
    try {
      status = JSON.parse(row.status) as Record<string, unknown>;
    } catch {
      status = null;
    }
  }
  return {
    id: row.id,
    online: row.online === 1,
    lastContact: row.last_contact,
    epoch: row.epoch,
    ackedSeq: row.acked_seq,
    reportedBacklog: row.reported_backlog,
    readings: row.readings,
    status,
  };
}
