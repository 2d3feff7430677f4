import { CloudError } from '../errors.js';
import type { WireReading } from '@fieldmesh/protocol';

/** A reading as the cloud keeps it: named upstream by `(gateway, epoch, seq)`. */
export interface StoredReading {
  gateway: string;
  epoch: string;
  seq: number;
  series: string;
  ts: number;
  value: number | boolean | string;
  unit?: string;
}

export interface CommitResult {
  /** Rows newly stored. */
  stored: number;
  /** Rows already there (a resent batch): not stored again. */
  duplicates: number;
}

/** What the cloud knows about one gateway. */
export interface GatewayRecord {
  id: string;
  online: boolean;
  /** Cloud wall time (ms) of the last batch or status from it; null if never. */
  lastContact: number | null;
  /** The epoch of its latest committed batch. */
  epoch: string | null;
  /** Highest seq committed for that epoch. */
  ackedSeq: number;
  /** Backlog the gateway last reported in its status, readings; null if never reported. */
  reportedBacklog: number | null;
  /** Readings stored from it, all epochs. */
  readings: number;
  /** Its last status message as received (JSON object), or null. */
  status: Record<string, unknown> | null;
}

export interface SeriesInfo {
  gateway: string;
  series: string;
  unit?: string;
  count: number;
  lastTs: number;
  lastValue: number | boolean | string;
}

export interface ReadingQuery {
  gateway?: string;
  series?: string;
  /** Inclusive, ms. */
  from?: number;
  /** Exclusive, ms. */
  to?: number;
  /** At most this many, oldest first: ordered by (ts, gateway, epoch, seq). */
  limit: number;
  /** Only readings after this one in that order: the cursor of the next page. */
  after?: ReadingCursor;
}

/** A position in the reading order (ts, gateway, epoch, seq): the last reading of a page. */
export interface ReadingCursor {
  ts: number;
  gateway: string;
  epoch: string;
  seq: number;
}

/**
 * Cloud storage (SQLite now, PostgreSQL later). Every implementation passes
 * test/cloud-bridge/cloud-store.contract.ts. Methods are async so a networked store fits.
 */
export interface CloudStore {
  /**
   * Stores a decoded batch idempotently under the unique `(gateway, epoch, seq)` key in ONE
   * transaction, and records the contact. Resolves only once the transaction is durable: the
   * caller then acks the batch. A row whose key is already stored with different content
   * (series, unit, ts or value) makes the whole batch fail with FM_ERR_CLOUD_BATCH_CONFLICT and
   * nothing of it is written: a duplicate is the same reading again, never a replacement. The
   * gateway's record (epoch, acked seq, readings) moves only by rows this call stored.
   */
  commitBatch(gateway: string, epoch: string, readings: readonly WireReading[], at: number): Promise<CommitResult>;
  /** Records a status message (or a disconnect) of a gateway. */
  recordStatus(gateway: string, update: { online: boolean; at: number; status?: Record<string, unknown>; reportedBacklog?: number | null }): Promise<void>;
  gateways(): Promise<GatewayRecord[]>;
  series(gateway?: string): Promise<SeriesInfo[]>;
  readings(q: ReadingQuery): Promise<StoredReading[]>;
  /** Readings stored in total (for tests and metrics). */
  count(): Promise<number>;
  close(): Promise<void>;
}

/**
 * The refusal of a batch that would replace stored rows (FM_ERR_CLOUD_BATCH_CONFLICT), naming the
 * first conflicting seqs; every store implementation throws it from inside its transaction.
 */
export function conflictError(gateway: string, epoch: string, seqs: readonly number[]): CloudError {
  const shown = seqs.slice(0, 5).join(', ') + (seqs.length > 5 ? `, … (${seqs.length})` : '');
  return new CloudError('FM_ERR_CLOUD_BATCH_CONFLICT', `${gateway} epoch ${epoch}: seq ${shown} already stored with different content`);
}
