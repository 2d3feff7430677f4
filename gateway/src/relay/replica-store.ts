import Database from 'better-sqlite3';
import { systemClock, type Clock } from '@fieldmesh/device-sdk';
import { openSqlite } from '@fieldmesh/device-sdk/sqlite';

/** One origin's replica as the buddy holds it. */
export interface ReplicaOrigin {
  origin: string;
  epoch: string;
  /** Highest seq held contiguously (or known acked upstream): the origin resumes after it. */
  storedSeq: number;
  /** The origin's ack watermark as last heard: everything up to it is trimmed. */
  ackedSeq: number;
  batches: number;
  bytes: number;
}

export interface ReplicaBatch {
  firstSeq: number;
  lastSeq: number;
  payload: Buffer;
}

/**
 * Where a buddy keeps other gateways' unacknowledged log tails (RELAY.md §7): encoded uplink
 * batches, byte for byte, per (origin, epoch), so uploading one later is a publish, not a
 * re-encode. Real implementation: SQLite in its own file (`replicas.db`), synchronous=FULL,
 * because "replicated" promises the origin that the batch survives this gateway's power loss.
 */
export interface ReplicaStore {
  /** Registers (origin, epoch), trims at `ackedSeq`, and returns where the origin should resume. */
  open(origin: string, epoch: string, ackedSeq: number): number;
  /**
   * Stores one batch if it continues the replica (firstSeq ≤ storedSeq + 1); returns the new
   * storedSeq (unchanged for a duplicate or a gap: the origin resumes from the answer).
   */
  put(origin: string, epoch: string, firstSeq: number, lastSeq: number, payload: Buffer): number;
  /** Several `put`s in ONE transaction (one fsync); returns each one's resulting storedSeq. */
  putMany(items: ReadonlyArray<{ origin: string; epoch: string; firstSeq: number; lastSeq: number; payload: Buffer }>): number[];
  /** Drops batches the cloud has (last seq ≤ ackedSeq). */
  trim(origin: string, epoch: string, ackedSeq: number): void;
  /** Drops one batch the cloud acked (after an upload by this buddy). */
  remove(origin: string, epoch: string, firstSeq: number): void;
  origins(): ReplicaOrigin[];
  batches(origin: string, epoch: string, limit: number): ReplicaBatch[];
  close(): void;
}

export class SqliteReplicaStore implements ReplicaStore {
  private readonly db: Database.Database;
  private readonly q: {
    origin: Database.Statement<[string, string]>;
    insertOrigin: Database.Statement<[string, string, number, number, number]>;
    updateOrigin: Database.Statement<[number, number, number, string, string]>;
    insertBatch: Database.Statement<[string, string, number, number, number, Buffer]>;
    trim: Database.Statement<[string, string, number]>;
    remove: Database.Statement<[string, string, number]>;
    origins: Database.Statement<[]>;
    batches: Database.Statement<[string, string, number]>;
    dropEmpty: Database.Statement<[number]>;
  };

  constructor(
    file: string,
    /** Stamps `updated_at` (wall ms); default the real clock. */
    private readonly clock: Clock = systemClock,
  ) {
    this.db = openSqlite(Database, file);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS replica_origin (
        origin TEXT NOT NULL, epoch TEXT NOT NULL, stored_seq INTEGER NOT NULL, acked_seq INTEGER NOT NULL, updated_at INTEGER NOT NULL,
        PRIMARY KEY (origin, epoch)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS replica_batch (
        origin TEXT NOT NULL, epoch TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, bytes INTEGER NOT NULL, payload BLOB NOT NULL,
        PRIMARY KEY (origin, epoch, first_seq)) WITHOUT ROWID;`);
    this.q = {
      origin: this.db.prepare('SELECT stored_seq AS storedSeq, acked_seq AS ackedSeq FROM replica_origin WHERE origin = ? AND epoch = ?'),
      insertOrigin: this.db.prepare('INSERT INTO replica_origin (origin, epoch, stored_seq, acked_seq, updated_at) VALUES (?, ?, ?, ?, ?)'),
      updateOrigin: this.db.prepare('UPDATE replica_origin SET stored_seq = ?, acked_seq = ?, updated_at = ? WHERE origin = ? AND epoch = ?'),
      insertBatch: this.db.prepare('INSERT OR REPLACE INTO replica_batch (origin, epoch, first_seq, last_seq, bytes, payload) VALUES (?, ?, ?, ?, ?, ?)'),
      trim: this.db.prepare('DELETE FROM replica_batch WHERE origin = ? AND epoch = ? AND last_seq <= ?'),
      remove: this.db.prepare('DELETE FROM replica_batch WHERE origin = ? AND epoch = ? AND first_seq = ?'),
      origins: this.db.prepare(
        `SELECT o.origin, o.epoch, o.stored_seq AS storedSeq, o.acked_seq AS ackedSeq, COUNT(b.first_seq) AS batches, COALESCE(SUM(b.bytes), 0) AS bytes
         FROM replica_origin o LEFT JOIN replica_batch b ON b.origin = o.origin AND b.epoch = o.epoch GROUP BY o.origin, o.epoch ORDER BY o.origin, o.epoch`,
      ),
      batches: this.db.prepare('SELECT first_seq AS firstSeq, last_seq AS lastSeq, payload FROM replica_batch WHERE origin = ? AND epoch = ? ORDER BY first_seq LIMIT ?'),
      dropEmpty: this.db.prepare(
        'DELETE FROM replica_origin WHERE NOT EXISTS (SELECT 1 FROM replica_batch b WHERE b.origin = replica_origin.origin AND b.epoch = replica_origin.epoch) AND updated_at < ?',
      ),
    };
  }

  private row(origin: string, epoch: string): { storedSeq: number; ackedSeq: number } | undefined {
    return this.q.origin.get(origin, epoch) as { storedSeq: number; ackedSeq: number } | undefined;
  }

  open(origin: string, epoch: string, ackedSeq: number): number {
    return this.db.transaction(() => {
      const r = this.row(origin, epoch);
      if (!r) {
        this.q.insertOrigin.run(origin, epoch, ackedSeq, ackedSeq, this.clock.now());
        return ackedSeq;
      }
      const acked = Math.max(r.ackedSeq, ackedSeq);
      const stored = Math.max(r.storedSeq, acked);
      this.q.trim.run(origin, epoch, acked);
      this.q.updateOrigin.run(stored, acked, this.clock.now(), origin, epoch);
      return stored;
    })();
  }

  put(origin: string, epoch: string, firstSeq: number, lastSeq: number, payload: Buffer): number {
    return this.db.transaction(() => {
      const r = this.row(origin, epoch);
      if (!r) return 0;
      if (lastSeq <= r.storedSeq || firstSeq > r.storedSeq + 1) return r.storedSeq;
      this.q.insertBatch.run(origin, epoch, firstSeq, lastSeq, payload.length, payload);
      this.q.updateOrigin.run(lastSeq, r.ackedSeq, this.clock.now(), origin, epoch);
      return lastSeq;
    })();
  }

  putMany(items: ReadonlyArray<{ origin: string; epoch: string; firstSeq: number; lastSeq: number; payload: Buffer }>): number[] {
    return this.db.transaction(() => items.map((i) => this.put(i.origin, i.epoch, i.firstSeq, i.lastSeq, i.payload)))();
  }

  trim(origin: string, epoch: string, ackedSeq: number): void {
    this.open(origin, epoch, ackedSeq);
  }

  remove(origin: string, epoch: string, firstSeq: number): void {
    this.q.remove.run(origin, epoch, firstSeq);
  }

  /** Cheap enough for every status call: sizes come from a column, never from reading blobs. */
  origins(): ReplicaOrigin[] {
    return this.q.origins.all() as ReplicaOrigin[];
  }

  batches(origin: string, epoch: string, limit: number): ReplicaBatch[] {
    return this.q.batches.all(origin, epoch, limit) as ReplicaBatch[];
  }

  /** Forgets origins with nothing held that were last touched before `beforeMs`. */
  forgetEmpty(beforeMs: number): void {
    this.q.dropEmpty.run(beforeMs);
  }

  close(): void {
    this.db.close();
  }
}
