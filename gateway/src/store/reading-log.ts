import type { Reading } from '@fieldmesh/device-sdk';

/** A reading as it stands in the log: `seq` orders it and names it upstream with the epoch. */
export interface LoggedReading extends Reading {
  seq: number;
}

export interface Backlog {
  /** Readings above the ack watermark. */
  readings: number;
  /** Approximate bytes those readings take in the log. */
  bytes: number;
  /** Wall time (ms) of the oldest unsent reading, or null when nothing is unsent. */
  oldestUnsentTs: number | null;
}

/**
 * The reading log is the outbox (DESIGN.md, "The path of one reading"): every accepted reading is
 * appended once with a gateway-wide sequence number; the uplink is a cursor over it that moves only
 * on the cloud's ack watermark. Implementations: SQLite (real) and in-memory (logic tests).
 */
export interface ReadingLog {
  /** Random id born with the database, so a re-flashed gateway never reuses `(epoch, seq)`. */
  readonly epoch: string;
  /**
   * Appends in one transaction. Returns once the transaction is durable (synchronous=FULL), so a
   * caller may then acknowledge the readings to their device. Sequence numbers are contiguous.
   */
  append(readings: readonly Reading[]): { firstSeq: number; lastSeq: number };
  /** Up to `limit` readings with seq > `afterSeq`, in seq order. */
  readAfter(afterSeq: number, limit: number): LoggedReading[];
  /** Highest seq appended so far (0 when empty). */
  lastSeq(): number;
  /** Highest seq the cloud durably committed (0 at first). */
  ackWatermark(): number;
  /** Moves the watermark forward; a lower value is ignored (acks may arrive out of order). */
  advanceAckWatermark(seq: number): void;
  /**
   * Records that readings firstSeq..lastSeq were given up on (a batch the cloud keeps refusing),
   * with the reason, counted; the watermark moves past them so delivery goes on.
   */
  quarantine(firstSeq: number, lastSeq: number, reason: string): void;
  backlog(): Backlog;
  close(): void;
}
