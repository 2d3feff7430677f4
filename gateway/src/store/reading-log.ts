import type { Reading } from '@fieldmesh/device-sdk';
import type { WireReading } from '@fieldmesh/protocol';
import { StoreError } from './errors.js';

/** How many recent message numbers per device the dedupe remembers (far above any in-flight window). */
export const DEVICE_SEQ_WINDOW = 4096;

/**
 * A reading as it stands in the log: the wire reading (`seq` orders it and names it upstream with
 * the epoch) plus what only the gateway keeps.
 */
export interface LoggedReading extends WireReading {
  /** Stored while the wall clock was not known good and not corrected since (clock-health.ts). */
  uncertain?: boolean;
}

/** "Device `device` sent its message number `seq`": recorded with the readings it carried. */
export interface DeviceSeqMark {
  device: string;
  seq: number;
  /**
   * Digest of the message's bytes. A mark with a digest matches only the same bytes, so a device
   * that restarted its counter (same seq, new content) is stored, while a resend is not.
   */
  digest?: string;
}

/** Batches given up on (see `quarantine`). */
export interface QuarantineStats {
  batches: number;
  readings: number;
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
 * The reading log is the outbox (docs/ARCHITECTURE.md, "The path of a reading"): every accepted reading is
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
  append(readings: readonly Reading[], marks?: readonly DeviceSeqMark[]): { firstSeq: number; lastSeq: number };
  /**
   * Like `append`, but the transaction runs off the event loop (a commit thread); resolves once
   * durable. At most one in flight; a sync `append` meanwhile throws FM_ERR_STORE_BUSY.
   * Optional: callers fall back to `append`.
   */
  appendAsync?(readings: readonly Reading[], marks?: readonly DeviceSeqMark[]): Promise<{ firstSeq: number; lastSeq: number }>;
  /**
   * Whether `device`'s message `seq` was appended (as a mark) recently — with the same `digest`
   * when both the mark and the question carry one. The log keeps the last `DEVICE_SEQ_WINDOW`
   * numbers below each device's highest; older ones read as not seen.
   */
  seenDeviceSeq?(device: string, seq: number, digest?: string): boolean;
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
   * with the reason, counted; the watermark moves to `lastSeq` (if higher) so delivery goes on:
   * call it for the oldest unacknowledged batch.
   */
  quarantine(firstSeq: number, lastSeq: number, reason: string): void;
  quarantined?(): QuarantineStats;
  backlog(): Backlog;
  close(): void;
}

/** The last line of defence: ingest validates, but a bad row must never enter the outbox. */
export function checkReading(r: Reading): void {
  const ok =
    typeof r.series === 'string' &&
    r.series.indexOf('/') > 0 &&
    Number.isSafeInteger(r.ts) &&
    (typeof r.value === 'boolean' || typeof r.value === 'string' || (typeof r.value === 'number' && Number.isFinite(r.value))) &&
    (r.unit === undefined || typeof r.unit === 'string');
  if (!ok) throw new StoreError('FM_ERR_STORE_INPUT', `bad reading ${JSON.stringify(r).slice(0, 200)}`);
}
