import type Database from 'better-sqlite3';

/**
 * Dedupe marks: "device D sent its message number N (with digest G)", written by the append
 * transaction (append-transaction.js) with the readings they carried, pruned there to each
 * device's last DEVICE_SEQ_WINDOW numbers; asked here before a message is stored.
 */
export class DedupeMarks {
  private readonly seenStmt: Database.Statement;

  constructor(db: Database.Database) {
    this.seenStmt = db.prepare('SELECT digest FROM device_seq WHERE device = ? AND seq = ?').raw();
  }

  /** A mark or a question without a digest matches on the number alone. */
  seen(device: string, seq: number, digest?: string): boolean {
    const row = this.seenStmt.get(device, seq) as [string | null] | undefined;
    if (row === undefined) return false;
    return digest === undefined || row[0] === null || row[0] === digest;
  }
}
