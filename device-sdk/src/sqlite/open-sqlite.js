// The one way fieldmesh opens a SQLite file. Plain JavaScript (typed by open-sqlite.d.ts) because
// the reading log's commit thread is a worker, and workers load without the tsx loader; the
// driver (better-sqlite3's Database) is passed in, so the SDK itself never depends on it.
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';

/** `PRAGMA synchronous` reports FULL as 2. */
export const SYNCHRONOUS_FULL = 2;
/** Owner read/write only: a database holds readings, credentials' hashes and sessions. */
export const DATABASE_FILE_MODE = 0o600;
const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * Opens `file` with `Driver` and makes it durable:
 * - created owner-only (0600), and an existing file, -wal or -shm with group/other bits is
 *   tightened to it (SQLite creates -wal and -shm with the database file's mode);
 * - journal_mode=WAL and synchronous=FULL set, then read back: better-sqlite3 reopens a WAL
 *   database at NORMAL, so FULL is set on every open, and a filesystem that refuses WAL fails
 *   here rather than losing acknowledged data later;
 * - busy_timeout so a second connection to the same file (the commit thread) waits, not fails.
 * `durability: 'as-is'` leaves journal and sync alone: for a file used only as an exclusive lock
 * (EXCLUSIVE locking mode on a rollback journal) or one checked for damage before it is trusted.
 * `readonly` is for tools and tests that only look.
 * Failures go through `fail(kind, message, cause)` so each component throws its own catalogued
 * code (default: the driver's own error, or a plain Error for a durability refusal).
 */
export function openSqlite(Driver, file, opts = {}) {
  const fail = opts.fail ?? ((_kind, message, cause) => cause ?? new Error(message));
  const onDisk = file !== '' && file !== ':memory:' && !file.startsWith('file:');
  const readonly = opts.readonly === true;
  let db;
  try {
    if (onDisk && !readonly) ownerOnly(file, opts.fileMustExist === true);
    const driverOpts = {};
    if (readonly) driverOpts.readonly = true;
    if (opts.fileMustExist) driverOpts.fileMustExist = true;
    driverOpts.timeout = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    db = new Driver(file, driverOpts);
  } catch (err) {
    throw fail('open', `cannot open ${file}: ${err && err.message}`, err);
  }
  if (readonly || opts.durability === 'as-is') return db;
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    const mode = db.pragma('journal_mode', { simple: true });
    const sync = db.pragma('synchronous', { simple: true });
    // An in-memory database has no WAL (it reports "memory"); FULL is still read back.
    if ((onDisk && mode !== 'wal') || sync !== SYNCHRONOUS_FULL) {
      throw fail('durability', `${file}: journal_mode=${String(mode)} synchronous=${String(sync)}, need wal and FULL`);
    }
    if (onDisk) for (const side of ['-wal', '-shm']) tighten(`${file}${side}`);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** Creates `file` 0600 if it does not exist, else tightens it (and its -wal/-shm) to owner-only. */
function ownerOnly(file, mustExist) {
  if (!mustExist) {
    // 'a': creates if missing, never truncates; the mode applies only on creation.
    closeSync(openSync(file, 'a', DATABASE_FILE_MODE));
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`]) tighten(f);
}

function tighten(file) {
  let st;
  try {
    st = statSync(file);
  } catch {
    return;
  }
  if ((st.mode & 0o077) !== 0) chmodSync(file, st.mode & 0o700);
}
