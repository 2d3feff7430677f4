import type Database from 'better-sqlite3';
import { GATEWAY_VERSION } from '../version.js';
import { StoreError } from './errors.js';

/**
 * One forward step of the gateway database schema. Never edited once shipped, never undone.
 *
 * `additive`: a build that knows only the versions before this one can keep reading and writing
 * the database after it. Only new tables, new indexes and new columns that are nullable or have a
 * default (older code inserts rows without them) qualify, and only when rows written by older code
 * (those columns NULL or default, those tables untouched) stay correct for newer code. Anything
 * else (a renamed, dropped or retyped column, rewritten rows, a new meaning for old values) is not
 * additive: it raises the database's compat version (STORAGE.md, "Schema versions and rollbacks").
 */
export interface Migration {
  version: number;
  why: string;
  sql: string;
  additive: boolean;
}

/**
 * Schema migrations of the gateway database, applied in order inside one transaction each.
 * Later versions are appended here; never edit a shipped version. Version 1 creates the
 * database, so it is not additive: nothing before it can use the result.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    why: 'reading log, interned series, ack watermark, device dedupe window, quarantine',
    additive: false,
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      -- (name, unit) interned so a row is a few integers: unit '' means none.
      CREATE TABLE series (id INTEGER PRIMARY KEY, name TEXT NOT NULL, unit TEXT NOT NULL, UNIQUE (name, unit));
      -- kind: 0 number, 1 boolean (value 0/1), 2 string. The seq is the rowid: rows stay small.
      CREATE TABLE readings (seq INTEGER PRIMARY KEY, sid INTEGER NOT NULL, ts INTEGER NOT NULL, kind INTEGER NOT NULL, value);
      CREATE TABLE device_seq (device TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (device, seq)) WITHOUT ROWID;
      CREATE TABLE quarantine (id INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL);
    `,
  },
  {
    version: 2,
    why: 'dedupe marks carry a digest of the message, so a device that restarted its fm_seq counter is not mistaken for a resend',
    // A mark without a digest (written by v1 code) is taken as a resend, as before.
    sql: `ALTER TABLE device_seq ADD COLUMN digest TEXT;`,
    additive: true,
  },
  {
    version: 3,
    why: 'storage budget: nothing lost silently — losses per series and reason; raw ranges replaced by their rollups',
    sql: `
      -- reason: downsampled | evicted | expired | refused | quarantined (loss-ledger.ts).
      CREATE TABLE loss (series TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (series, reason)) WITHOUT ROWID;
      -- Raw readings first_seq..last_seq (only the counted ones, the range may hold others) were
      -- replaced by rollup readings rollup_first..rollup_last appended with fresh seqs.
      CREATE TABLE downsampled (id INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, readings INTEGER NOT NULL, rollup_first INTEGER NOT NULL, rollup_last INTEGER NOT NULL, at INTEGER NOT NULL);
    `,
    additive: true,
  },
  {
    version: 4,
    why: 'time without an RTC: readings stored while the wall clock was not known good carry boot, monotonic time and wall offset (NULL otherwise: no cost for the usual row)',
    sql: `
      CREATE TABLE boots (id INTEGER PRIMARY KEY, boot_id TEXT NOT NULL UNIQUE);
      ALTER TABLE readings ADD COLUMN boot INTEGER;
      ALTER TABLE readings ADD COLUMN mono INTEGER;
      ALTER TABLE readings ADD COLUMN wall_off INTEGER;
      -- Only uncertain rows are indexed, so the index stays as small as they are few.
      CREATE INDEX readings_uncertain ON readings (boot) WHERE boot IS NOT NULL;
    `,
    // Rows written by v3 code have NULL boot: a trusted wall time, the usual row.
    additive: true,
  },
];

/**
 * auto_vacuum=INCREMENTAL lets deletes give space back to the file system (PRAGMA
 * incremental_vacuum), so the budget holds on disk. It must be set before the first table is
 * created, or be followed by a VACUUM (which cannot run inside a transaction, hence not in
 * MIGRATIONS): done once when an older database is opened.
 */
export function ensureIncrementalVacuum(db: Database.Database): void {
  if (Number(db.pragma('auto_vacuum', { simple: true })) === 2) return;
  db.pragma('auto_vacuum = INCREMENTAL');
  // Even a new file needs it: switching to WAL already wrote its header page.
  db.exec('VACUUM');
}

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The schema of a database as found at open. */
export interface FoundSchema {
  /** Highest applied version (0: no schema yet). */
  version: number;
  /** Lowest schema version whose code can use the database (`schema_compat`); = version when not recorded. */
  compat: number;
  /** The fieldmesh release that raised compat to its value, when recorded. */
  compatRelease: string | null;
}

export function foundSchema(db: Database.Database): FoundSchema {
  const has = (table: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
  const version = has('schema_version') ? ((db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0) : 0;
  const row = has('schema_compat') ? (db.prepare('SELECT version, release FROM schema_compat ORDER BY version DESC LIMIT 1').get() as { version: number; release: string | null } | undefined) : undefined;
  // Databases from builds before the compat rule record none: every version they had was
  // additive on top of version 1, but only this list knows that, so it is computed at migrate.
  return { version, compat: row?.version ?? version, compatRelease: row?.release ?? null };
}

/**
 * Whether this build (knowing `migrations`) may open a database: yes when it knows the
 * database's version, or when its own version is at least the database's compat version (every
 * newer migration was additive). Refuses with the version to roll forward to, before anything
 * is written to the file.
 */
export function checkSchemaCompat(db: Database.Database, file: string, migrations: readonly Migration[] = MIGRATIONS): FoundSchema {
  const found = foundSchema(db);
  const known = migrations[migrations.length - 1]!.version;
  if (found.version <= known || found.compat <= known) return found;
  const release = found.compatRelease ? ` (fieldmesh ${found.compatRelease} migrated it)` : '';
  throw new StoreError(
    'FM_ERR_STORE_SCHEMA',
    `${file} has schema version ${found.version}, usable only by builds that know schema ${found.compat} or later${release}; this build knows ${known}. Roll forward to a release with schema ${found.compat} or later; the reading log was not changed`,
  );
}

/** Statements a migration declared additive may hold (comments stripped, one per `;`). */
const ADDITIVE = [/^CREATE TABLE (IF NOT EXISTS )?\w+ /i, /^CREATE (UNIQUE )?INDEX (IF NOT EXISTS )?\w+ ON /i, /^ALTER TABLE \w+ ADD COLUMN /i];

/** Why a migration declared additive is not, or null. A column added NOT NULL needs a DEFAULT, or older code's inserts fail. */
export function additiveProblem(m: Migration): string | null {
  const statements = m.sql
    .replace(/--[^\n]*/g, '')
    .split(';')
    .map((x) => x.trim().replace(/\s+/g, ' '))
    .filter((x) => x.length > 0);
  for (const st of statements) {
    if (!ADDITIVE.some((re) => re.test(st))) return `"${st.slice(0, 60)}" is not a new table, index or column`;
    if (/^ALTER TABLE/i.test(st) && /\bNOT NULL\b/i.test(st) && !/\bDEFAULT\b/i.test(st)) return `"${st.slice(0, 60)}" adds a NOT NULL column without a DEFAULT`;
  }
  return null;
}

/**
 * Applies every migration above the database's version (forward only: there is no down
 * migration), and records its compat version: the newest non-additive migration ever applied,
 * with this build's release. Returns the version found at open. `migrations` is this build's
 * list; tests pass a longer one to play a newer build.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS, release = GATEWAY_VERSION): number {
  for (const m of migrations) {
    const problem = m.additive ? additiveProblem(m) : null;
    if (problem) throw new StoreError('FM_ERR_STORE_SCHEMA', `migration ${m.version} is declared additive but ${problem}`);
  }
  const found = foundSchema(db);
  const known = migrations[migrations.length - 1]!.version;
  // A newer log this build may use (checkSchemaCompat) is never written to here.
  if (found.version > known) return found.version;
  const hasCompat = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_compat'").get() !== undefined;
  if (found.version === known && hasCompat) return found.version;
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    db.exec('CREATE TABLE IF NOT EXISTS schema_compat (version INTEGER NOT NULL, release TEXT)');
  })();
  const stored = db.prepare('SELECT version, release FROM schema_compat ORDER BY version DESC LIMIT 1').get() as { version: number; release: string | null } | undefined;
  let compat = stored?.version ?? 0;
  let compatRelease = stored?.release ?? null;
  // A database from before the rule: its compat follows from the migrations it already has.
  if (!stored) for (const m of migrations) if (m.version <= found.version && !m.additive) compat = m.version;
  let written = stored ? compat : -1;
  const record = () => {
    if (compat === written) return;
    db.exec('DELETE FROM schema_compat');
    db.prepare('INSERT INTO schema_compat (version, release) VALUES (?, ?)').run(compat, compatRelease);
    written = compat;
  };
  // A log from before the rule, already at this version: only its compat is recorded.
  if (found.version === known) db.transaction(record)();
  for (const m of migrations) {
    if (m.version <= found.version) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(m.version);
      if (!m.additive) {
        compat = m.version;
        compatRelease = release;
      }
      record();
    })();
  }
  return found.version;
}
