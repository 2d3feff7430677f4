import type Database from 'better-sqlite3';

/**
 * Schema migrations of the gateway database, applied in order inside one transaction each.
 * Later issues append versions here (rollups, rules state); never edit a shipped version.
 * The `schema_version` table holds the highest applied version.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; why: string; sql: string }> = [
  {
    version: 1,
    why: 'reading log, interned series, ack watermark, device dedupe window, quarantine',
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
    sql: `ALTER TABLE device_seq ADD COLUMN digest TEXT;`,
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

/** Applies every migration above the database's version; returns the version found at open. */
export function migrate(db: Database.Database): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null };
  const found = row.v ?? 0;
  for (const m of MIGRATIONS) {
    if (m.version <= found) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(m.version);
    })();
  }
  return found;
}
