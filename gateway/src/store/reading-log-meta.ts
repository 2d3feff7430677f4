import type Database from 'better-sqlite3';

/**
 * The gateway database's `meta` table: one value per key. Keys: epoch, ack_watermark, seq_floor
 * (highest seq ever handed out, kept when deletes emptied the tail), last_good_wall
 * (clock-health.ts), salvage (salvage-report.ts).
 */
export class ReadingLogMeta {
  private readonly getStmt: Database.Statement;
  private readonly setStmt: Database.Statement;

  constructor(db: Database.Database) {
    this.getStmt = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
    this.setStmt = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  }

  get(key: string): string | undefined {
    return this.getStmt.get(key) as string | undefined;
  }

  set(key: string, value: string): void {
    this.setStmt.run(key, value);
  }
}
