import type { Reading } from '@fieldmesh/device-sdk';
import type { LoggedReading, ReadingLog } from '../store/reading-log.js';

/** Seqs per block of the held-bit map: 4096 bits = 512 bytes, dropped whole once acknowledged. */
const BLOCK = 4096;

/**
 * Which logged readings a deadband / report-on-change rule held back from the uplink.
 *
 * The rules engine decides at ingest, right after the commit (LocalProcessing.onCommitted); the
 * uplink reads the log later and perhaps more than once (after a reconnect it re-reads from the
 * ack watermark), so the decision is recorded by seq instead of recomputed. Only held seqs take a
 * bit, in 512-byte blocks that are dropped once the watermark passes them, so memory follows the
 * unacknowledged backlog (10 million unsent readings: at most 1.25 MB). The map lives in memory:
 * after a restart the whole backlog is forwarded, which sends more than needed, never less.
 */
export class HeldReadings {
  private readonly blocks = new Map<number, Uint8Array>();
  private heldCount = 0;

  /** Records the engine's decisions for a committed batch (`forward[i]` for seq firstSeq + i). */
  record(firstSeq: number, forward: readonly boolean[]): void {
    for (let i = 0; i < forward.length; i++) {
      if (forward[i] !== false) continue;
      const seq = firstSeq + i;
      const key = Math.floor(seq / BLOCK);
      let block = this.blocks.get(key);
      if (!block) this.blocks.set(key, (block = new Uint8Array(BLOCK / 8)));
      const bit = seq % BLOCK;
      block[bit >> 3]! |= 1 << (bit & 7);
      this.heldCount++;
    }
  }

  isHeld(seq: number): boolean {
    const block = this.blocks.get(Math.floor(seq / BLOCK));
    if (!block) return false;
    const bit = seq % BLOCK;
    return (block[bit >> 3]! & (1 << (bit & 7))) !== 0;
  }

  /** Forgets every block wholly at or below `seq` (acknowledged upstream). */
  trimThrough(seq: number): void {
    const last = Math.floor((seq + 1) / BLOCK) - 1;
    for (const key of this.blocks.keys()) if (key <= last) this.blocks.delete(key);
  }

  /** Held readings recorded since start (a counter, for metrics). */
  get held(): number {
    return this.heldCount;
  }

  /** Bytes the map takes now. */
  get bytes(): number {
    return this.blocks.size * (BLOCK / 8);
  }

  /**
   * The reading log as the uplink should see it: held readings left out. The ack watermark still
   * moves over them (a later batch's ack covers its whole seq range), so they count as delivered:
   * they stay in the local log and its rollups, which is what a deadband rule asks for.
   */
  upstreamView(log: ReadingLog): ReadingLog {
    return new UpstreamView(log, this);
  }
}

class UpstreamView implements ReadingLog {
  constructor(
    private readonly log: ReadingLog,
    private readonly heldReadings: HeldReadings,
  ) {}

  get epoch(): string {
    return this.log.epoch;
  }

  append(readings: readonly Reading[]): { firstSeq: number; lastSeq: number } {
    return this.log.append(readings);
  }

  readAfter(afterSeq: number, limit: number): LoggedReading[] {
    const out: LoggedReading[] = [];
    let cursor = afterSeq;
    // Keep reading until `limit` forwarded readings or the end of the log, so a long held run
    // never looks like the end of the backlog to the uplink.
    for (;;) {
      const rows = this.log.readAfter(cursor, limit);
      for (const r of rows) if (!this.heldReadings.isHeld(r.seq)) out.push(r);
      if (rows.length < limit || out.length >= limit) return out.length > limit ? out.slice(0, limit) : out;
      cursor = rows[rows.length - 1]!.seq;
    }
  }

  lastSeq(): number {
    return this.log.lastSeq();
  }

  ackWatermark(): number {
    return this.log.ackWatermark();
  }

  advanceAckWatermark(seq: number): void {
    this.log.advanceAckWatermark(seq);
    this.heldReadings.trimThrough(this.log.ackWatermark());
  }

  quarantine(firstSeq: number, lastSeq: number, reason: string): void {
    this.log.quarantine(firstSeq, lastSeq, reason);
  }

  backlog(): ReturnType<ReadingLog['backlog']> {
    return this.log.backlog();
  }

  close(): void {
    this.log.close();
  }
}
