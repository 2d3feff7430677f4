import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqlite } from '@fieldmesh/device-sdk/sqlite';
import { StoreError } from './errors.js';

/**
 * Exclusive ownership of a gateway data directory for the life of the process.
 *
 * The reading log hands out sequence numbers from memory, so two gateway processes on one data
 * directory would both number the next reading N+1. The lock is a SQLite database held in
 * `locking_mode=EXCLUSIVE`: after its first write the connection keeps the file's POSIX lock until
 * it closes, and the kernel drops that lock when the process dies, so a crash (kill -9, power
 * loss) never leaves a stale lock behind, unlike a pid file.
 */
export class DataDirLock {
  private db: Database.Database | null;

  private constructor(db: Database.Database) {
    this.db = db;
  }

  static acquire(dataDir: string): DataDirLock {
    const file = join(dataDir, 'gateway.lock');
    const pidFile = join(dataDir, 'gateway.pid');
    // No WAL: the lock is EXCLUSIVE locking mode on a rollback journal; no wait for a holder.
    const db = openSqlite(Database, file, { durability: 'as-is', busyTimeoutMs: 0, fail: (_kind, message) => new StoreError('FM_ERR_STORE_OPEN', message) });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER); DELETE FROM holder;');
      db.prepare('INSERT INTO holder (pid) VALUES (?)').run(process.pid);
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code === 'SQLITE_BUSY') {
        let holder = 'another process';
        try {
          holder = `process ${readFileSync(pidFile, 'utf8').trim()}`;
        } catch {
          // The pid file is informational only.
        }
        throw new StoreError('FM_ERR_STORE_LOCKED', `${dataDir} is in use by ${holder}`);
      }
      throw new StoreError('FM_ERR_STORE_OPEN', `cannot lock ${file}: ${(err as Error).message}`);
    }
    // For the error message of the next process only; the lock itself is the SQLite file.
    writeFileSync(pidFile, `${process.pid}\n`);
    return new DataDirLock(db);
  }

  release(): void {
    this.db?.close();
    this.db = null;
  }
}
