import { randomBytes } from 'node:crypto';
import type { Reading } from '@fieldmesh/device-sdk';
import { StoreError } from './errors.js';
import { rowBytes } from './log-position.js';
import {
  checkReading,
  DEVICE_SEQ_WINDOW,
  type Backlog,
  type DeviceSeqMark,
  type LoggedReading,
  type QuarantineStats,
  type ReadingLog,
} from './reading-log.js';

/**
 * The in-memory twin of SqliteReadingLog for fast logic tests and the simulator: same contract
 * (test/gateway/store/reading-log.contract.test.ts), nothing survives the process.
 */
export class MemoryReadingLog implements ReadingLog {
  readonly epoch = randomBytes(8).toString('hex');
  private readonly rows: LoggedReading[] = [];
  /** seq of rows[0]; rows are contiguous. */
  private base = 1;
  private watermark = 0;
  private readonly marks = new Map<string, Map<number, string | null>>();
  private readonly quarantines: Array<{ firstSeq: number; lastSeq: number; reason: string }> = [];
  private closed = false;

  append(readings: readonly Reading[], marks: readonly DeviceSeqMark[] = []): { firstSeq: number; lastSeq: number } {
    this.assertOpen();
    for (const r of readings) checkReading(r);
    const firstSeq = this.lastSeq() + 1;
    let seq = firstSeq - 1;
    for (const r of readings) {
      const row: LoggedReading = { seq: ++seq, series: r.series, ts: r.ts, value: r.value };
      if (r.unit !== undefined && r.unit !== '') row.unit = r.unit;
      this.rows.push(row);
    }
    for (const m of marks) {
      let seen = this.marks.get(m.device);
      if (!seen) this.marks.set(m.device, (seen = new Map()));
      seen.set(m.seq, m.digest ?? null);
      let max = -Infinity;
      for (const s of seen.keys()) if (s > max) max = s;
      for (const s of seen.keys()) if (s < max - DEVICE_SEQ_WINDOW) seen.delete(s);
    }
    return { firstSeq, lastSeq: seq };
  }

  seenDeviceSeq(device: string, seq: number, digest?: string): boolean {
    this.assertOpen();
    const seen = this.marks.get(device);
    if (!seen?.has(seq)) return false;
    const d = seen.get(seq)!;
    return digest === undefined || d === null || d === digest;
  }

  readAfter(afterSeq: number, limit: number): LoggedReading[] {
    this.assertOpen();
    const start = Math.max(0, afterSeq + 1 - this.base);
    return this.rows.slice(start, start + limit).map((r) => ({ ...r }));
  }

  lastSeq(): number {
    return this.base - 1 + this.rows.length;
  }

  ackWatermark(): number {
    return this.watermark;
  }

  advanceAckWatermark(seq: number): void {
    this.assertOpen();
    if (seq > this.watermark) this.watermark = Math.min(seq, this.lastSeq());
  }

  quarantine(firstSeq: number, lastSeq: number, reason: string): void {
    this.assertOpen();
    this.quarantines.push({ firstSeq, lastSeq, reason });
    this.advanceAckWatermark(lastSeq);
  }

  quarantined(): QuarantineStats {
    return {
      batches: this.quarantines.length,
      readings: this.quarantines.reduce((n, q) => n + q.lastSeq - q.firstSeq + 1, 0),
    };
  }

  backlog(): Backlog {
    this.assertOpen();
    const readings = this.lastSeq() - this.watermark;
    const oldest = readings > 0 ? this.rows[this.watermark + 1 - this.base]?.ts ?? null : null;
    // The same per-row cost as the SQLite log's (rowBytes); summed here, the twin holds little.
    let bytes = 0;
    for (let i = Math.max(0, this.watermark + 1 - this.base); i < this.rows.length; i++) bytes += rowBytes(this.rows[i]!.value);
    return { readings, bytes, oldestUnsentTs: oldest };
  }

  close(): void {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('FM_ERR_STORE_CLOSED', 'reading log is closed');
  }
}
