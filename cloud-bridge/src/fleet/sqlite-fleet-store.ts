import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { openSqlite } from '@fieldmesh/device-sdk/sqlite';
import type { ReportedState } from '@fieldmesh/protocol';
import { CloudError } from '../errors.js';
import type { DesiredEntry, FleetEvent, FleetGateway, FleetStore, StoredBundle, StoredConfig, StoredDesired, StoredRelease, StoredRollout } from './fleet-store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bundles (version TEXT PRIMARY KEY, sha256 TEXT NOT NULL, bytes INTEGER NOT NULL, uploaded_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS releases (version TEXT PRIMARY KEY, envelope TEXT NOT NULL, added_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS configs (revision INTEGER PRIMARY KEY, envelope TEXT NOT NULL, added_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS desired (scope TEXT PRIMARY KEY, entry TEXT NOT NULL, set_at INTEGER NOT NULL, rev INTEGER NOT NULL, by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gateways (
  id TEXT PRIMARY KEY, tags TEXT NOT NULL DEFAULT '[]', reported TEXT, reported_at INTEGER,
  serial INTEGER NOT NULL DEFAULT 0, published TEXT);
CREATE TABLE IF NOT EXISTS rollouts (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, gateway TEXT, kind TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS history_by_gateway ON history (gateway, id);
`;

/** History rows kept; older ones are dropped as new ones come (a bounded file whatever gateways report). */
const MAX_HISTORY_ROWS = 200_000;

type Row = Record<string, unknown>;

function toGateway(r: Row): FleetGateway {
  return {
    id: String(r.id),
    tags: JSON.parse(String(r.tags)) as string[],
    reported: r.reported === null ? null : (JSON.parse(String(r.reported)) as ReportedState),
    reportedAt: r.reported_at === null ? null : Number(r.reported_at),
    serial: Number(r.serial),
    published: r.published === null ? null : String(r.published),
  };
}

function toRelease(r: Row): StoredRelease {
  return { version: String(r.version), envelope: JSON.parse(String(r.envelope)), addedAt: Number(r.added_at) };
}

function toConfig(r: Row): StoredConfig {
  return { revision: Number(r.revision), envelope: JSON.parse(String(r.envelope)), addedAt: Number(r.added_at) };
}

function toDesired(r: Row): StoredDesired {
  return { ...(JSON.parse(String(r.entry)) as DesiredEntry), scope: String(r.scope), setAt: Number(r.set_at), rev: Number(r.rev), by: String(r.by) };
}

export class SqliteFleetStore implements FleetStore {
  private readonly db: Database.Database;
  private historyRows: number;
  /** The statements every accepted report runs (reported-intake.ts), prepared once. */
  private readonly byId: Database.Statement;
  private readonly upsertReported: Database.Statement;
  private readonly insertEvent: Database.Statement;

  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.db = openSqlite(Database, file, { fail: (_kind, message) => new CloudError('FM_ERR_CLOUD_STORE_OPEN', message) });
    this.db.exec(SCHEMA);
    this.historyRows = (this.db.prepare('SELECT count(*) AS n FROM history').get() as { n: number }).n;
    this.byId = this.db.prepare('SELECT * FROM gateways WHERE id = ?');
    this.upsertReported = this.db.prepare(
      'INSERT INTO gateways (id, tags, reported, reported_at) VALUES (@id, @tags, @reported, @at) ON CONFLICT (id) DO UPDATE SET tags = @tags, reported = @reported, reported_at = @at',
    );
    this.insertEvent = this.db.prepare('INSERT INTO history (at, gateway, kind, detail) VALUES (?,?,?,?)');
  }

  putBundle(b: StoredBundle): void {
    this.db.prepare('INSERT OR REPLACE INTO bundles (version, sha256, bytes, uploaded_at) VALUES (?,?,?,?)').run(b.version, b.sha256, b.bytes, b.uploadedAt);
  }

  bundle(version: string): StoredBundle | null {
    const r = this.db.prepare('SELECT * FROM bundles WHERE version = ?').get(version) as Row | undefined;
    return r ? { version: String(r.version), sha256: String(r.sha256), bytes: Number(r.bytes), uploadedAt: Number(r.uploaded_at) } : null;
  }

  putRelease(r: StoredRelease): void {
    this.db.prepare('INSERT OR REPLACE INTO releases (version, envelope, added_at) VALUES (?,?,?)').run(r.version, JSON.stringify(r.envelope), r.addedAt);
  }

  release(version: string): StoredRelease | null {
    const r = this.db.prepare('SELECT * FROM releases WHERE version = ?').get(version) as Row | undefined;
    return r ? toRelease(r) : null;
  }

  releases(): StoredRelease[] {
    return (this.db.prepare('SELECT * FROM releases ORDER BY added_at DESC').all() as Row[]).map(toRelease);
  }

  putConfig(c: StoredConfig): void {
    this.db.prepare('INSERT OR REPLACE INTO configs (revision, envelope, added_at) VALUES (?,?,?)').run(c.revision, JSON.stringify(c.envelope), c.addedAt);
  }

  config(revision: number): StoredConfig | null {
    const r = this.db.prepare('SELECT * FROM configs WHERE revision = ?').get(revision) as Row | undefined;
    return r ? toConfig(r) : null;
  }

  configs(): StoredConfig[] {
    return (this.db.prepare('SELECT * FROM configs ORDER BY revision DESC').all() as Row[]).map(toConfig);
  }

  setDesired(scope: string, entry: DesiredEntry, at: number, by: string): StoredDesired {
    const clean: DesiredEntry = {
      ...(entry.version !== undefined ? { version: entry.version } : {}),
      ...(entry.configRevision !== undefined ? { configRevision: entry.configRevision } : {}),
      ...(entry.rollback !== undefined ? { rollback: entry.rollback } : {}),
    };
    const rev = ((this.db.prepare('SELECT max(rev) AS m FROM desired').get() as { m: number | null }).m ?? 0) + 1;
    this.db.prepare('INSERT OR REPLACE INTO desired (scope, entry, set_at, rev, by) VALUES (?,?,?,?,?)').run(scope, JSON.stringify(clean), at, rev, by);
    return { ...clean, scope, setAt: at, rev, by };
  }

  desired(scope: string): StoredDesired | null {
    const r = this.db.prepare('SELECT * FROM desired WHERE scope = ?').get(scope) as Row | undefined;
    return r ? toDesired(r) : null;
  }

  deleteDesired(scope: string): boolean {
    return this.db.prepare('DELETE FROM desired WHERE scope = ?').run(scope).changes > 0;
  }

  allDesired(): StoredDesired[] {
    return (this.db.prepare('SELECT * FROM desired ORDER BY rev DESC').all() as Row[]).map(toDesired);
  }

  gateway(id: string): FleetGateway | null {
    const r = this.byId.get(id) as Row | undefined;
    return r ? toGateway(r) : null;
  }

  gateways(): FleetGateway[] {
    return (this.db.prepare('SELECT * FROM gateways ORDER BY id').all() as Row[]).map(toGateway);
  }

  touchGateway(id: string): FleetGateway {
    this.db.prepare('INSERT OR IGNORE INTO gateways (id) VALUES (?)').run(id);
    return this.gateway(id)!;
  }

  saveReported(id: string, reported: ReportedState, tags: string[], at: number): void {
    this.upsertReported.run({ id, tags: JSON.stringify(tags), reported: JSON.stringify(reported), at });
  }

  savePublished(id: string, serial: number, published: string): void {
    this.db
      .prepare('INSERT INTO gateways (id, serial, published) VALUES (@id, @serial, @published) ON CONFLICT (id) DO UPDATE SET serial = @serial, published = @published')
      .run({ id, serial, published });
  }

  createRollout(r: Omit<StoredRollout, 'id'>): StoredRollout {
    const run = this.db.transaction(() => {
      const id = Number(this.db.prepare('INSERT INTO rollouts (body) VALUES (?)').run('{}').lastInsertRowid);
      const full: StoredRollout = { ...r, id };
      this.db.prepare('UPDATE rollouts SET body = ? WHERE id = ?').run(JSON.stringify(full), id);
      return full;
    });
    return run();
  }

  saveRollout(r: StoredRollout): void {
    this.db.prepare('UPDATE rollouts SET body = ? WHERE id = ?').run(JSON.stringify(r), r.id);
  }

  rollout(id: number): StoredRollout | null {
    const r = this.db.prepare('SELECT body FROM rollouts WHERE id = ?').get(id) as Row | undefined;
    return r ? (JSON.parse(String(r.body)) as StoredRollout) : null;
  }

  rollouts(limit = 20): StoredRollout[] {
    return (this.db.prepare('SELECT body FROM rollouts ORDER BY id DESC LIMIT ?').all(limit) as Row[]).map((r) => JSON.parse(String(r.body)) as StoredRollout);
  }

  addEvent(e: Omit<FleetEvent, 'id'>): void {
    this.insertEvent.run(e.at, e.gateway, e.kind, JSON.stringify(e.detail));
    if (++this.historyRows > MAX_HISTORY_ROWS + MAX_HISTORY_ROWS / 10) {
      this.db.prepare('DELETE FROM history WHERE id <= (SELECT max(id) FROM history) - ?').run(MAX_HISTORY_ROWS);
      this.historyRows = MAX_HISTORY_ROWS;
    }
  }

  history(q: { gateway?: string; limit: number; before?: number }): FleetEvent[] {
    const where = [q.gateway === undefined ? '' : 'gateway = @gateway', q.before === undefined ? '' : 'id < @before'].filter(Boolean);
    const rows = this.db
      .prepare(`SELECT * FROM history ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT @limit`)
      .all({ limit: q.limit, ...(q.gateway === undefined ? {} : { gateway: q.gateway }), ...(q.before === undefined ? {} : { before: q.before }) }) as Row[];
    return rows.map((r) => ({ id: Number(r.id), at: Number(r.at), gateway: r.gateway === null ? null : String(r.gateway), kind: String(r.kind), detail: JSON.parse(String(r.detail)) as Record<string, unknown> }));
  }

  close(): void {
    this.db.close();
  }
}
