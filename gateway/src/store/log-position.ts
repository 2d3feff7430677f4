import type { Reading, ReadingValue } from '@fieldmesh/device-sdk';
import { StoreError } from './errors.js';

/**
 * What one row costs in the backlog's byte count: seq, series id, ts and kind (16) plus the value.
 * The same formula in SQL (ROW_BYTES_SQL) and JS (rowBytes) keeps the count exact when kept
 * incrementally: added at append, subtracted for the range an ack or a delete covers.
 */
export const ROW_BYTES_SQL = '(16 + CASE kind WHEN 2 THEN length(CAST(value AS BLOB)) WHEN 1 THEN 1 ELSE 8 END)';
export function rowBytes(v: ReadingValue): number {
  return 16 + (typeof v === 'string' ? Buffer.byteLength(v) : typeof v === 'boolean' ? 1 : 8);
}

/**
 * Where the SQLite reading log stands, shared by its parts (append, ack, quarantine, budget
 * tools, clock stamps): the highest seq handed out, the ack watermark, and the row and byte
 * counts kept incrementally (counted once at open), so a scrape never scans. Also whether a
 * commit is in flight on the commit thread: while one is, nothing else may write.
 */
export class LogPosition {
  /** Highest seq appended and committed. */
  last: number;
  watermark: number;
  /** Rows above the watermark, rows in all, and the bytes of the unsent ones (ROW_BYTES_SQL). */
  unsentRows: number;
  unsentBytes: number;
  rowCount: number;
  asyncInFlight = false;
  closed = false;

  constructor(at: { last: number; watermark: number; rowCount: number; unsentRows: number; unsentBytes: number }) {
    this.last = at.last;
    this.watermark = at.watermark;
    this.rowCount = at.rowCount;
    this.unsentRows = at.unsentRows;
    this.unsentBytes = at.unsentBytes;
  }

  /** Readings committed after `last`. */
  appended(readings: readonly Reading[]): void {
    let b = 0;
    for (const r of readings) b += rowBytes(r.value);
    this.rowCount += readings.length;
    this.unsentRows += readings.length;
    this.unsentBytes += b;
  }

  /** The watermark moved to `to`, covering `rows` unsent rows of `bytes`. */
  acked(to: number, rows: number, bytes: number): void {
    this.watermark = to;
    this.unsentRows -= rows;
    this.unsentBytes -= bytes;
  }

  assertOpen(): void {
    if (this.closed) throw new StoreError('FM_ERR_STORE_CLOSED', 'reading log is closed');
  }

  /** Open and no commit in flight: for work that writes outside the append path. */
  assertIdle(what: string): void {
    this.assertOpen();
    if (this.asyncInFlight) throw new StoreError('FM_ERR_STORE_BUSY', `${what} while a commit is in flight`);
  }
}
