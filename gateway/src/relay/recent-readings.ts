import type { Reading } from '@fieldmesh/device-sdk';
import type { LoggedReading } from '../store/reading-log.js';

/**
 * The freshest committed readings, as the ingest handed them over in its commit notice
 * (RELAY.md §7): a buddy that keeps up is fed from here instead of reading the log back.
 *
 * Why chunks by reference: copying every reading on arrival (an object spread per reading) cost
 * more CPU than the whole rest of replication's origin side, and spread objects take a hidden
 * class of their own, which made the batch encoder's property reads megamorphic (3-4× slower in
 * `encodeBatch`). Here a commit costs one array push; `after()` builds each reading once, in the
 * log's own shape, only when a batch is about to be encoded.
 */
export class RecentReadings {
  private chunks: Array<{ firstSeq: number; readings: readonly Reading[] }> = [];
  private held = 0;

  /** `max`: readings kept at most (whole commits are dropped oldest first beyond it). */
  constructor(private readonly max: number) {}

  get size(): number {
    return this.held;
  }

  /**
   * One commit: readings with seqs firstSeq, firstSeq + 1, … (a gap forgets what was held). Kept
   * by reference: the caller must not change the array or its readings afterwards (the ingest
   * hands each commit notice a fresh array, `ingest.ts` settle()).
   */
  add(firstSeq: number, readings: readonly Reading[]): void {
    if (readings.length === 0 || this.max === 0) return;
    const last = this.chunks.at(-1);
    if (last && last.firstSeq + last.readings.length !== firstSeq) this.clear();
    this.chunks.push({ firstSeq, readings });
    this.held += readings.length;
    while (this.held > this.max && this.chunks.length > 1) this.held -= this.chunks.shift()!.readings.length;
  }

  /** Forgets whole commits at or below `seq` (every buddy has been sent them). */
  dropThrough(seq: number): void {
    while (this.chunks.length > 0) {
      const c = this.chunks[0]!;
      if (c.firstSeq + c.readings.length - 1 > seq) return;
      this.held -= c.readings.length;
      this.chunks.shift();
    }
  }

  clear(): void {
    this.chunks = [];
    this.held = 0;
  }

  /** Up to `limit` readings after `seq`, or null when memory does not hold seq + 1. */
  after(seq: number, limit: number): LoggedReading[] | null {
    const want = seq + 1;
    let i = 0;
    while (i < this.chunks.length && this.chunks[i]!.firstSeq + this.chunks[i]!.readings.length <= want) i++;
    if (i === this.chunks.length || this.chunks[i]!.firstSeq > want) return null;
    const out: LoggedReading[] = [];
    for (let at = want; i < this.chunks.length && out.length < limit; i++) {
      const c = this.chunks[i]!;
      for (let k = at - c.firstSeq; k < c.readings.length && out.length < limit; k++) {
        const r = c.readings[k]!;
        // The shape the log's readAfter builds (see the class comment): the uplink and the
        // replicator then feed encodeBatch the same hidden classes.
        const o: LoggedReading = { seq: c.firstSeq + k, series: r.series, ts: r.ts, value: r.value };
        if (r.unit !== undefined) o.unit = r.unit;
        out.push(o);
      }
      at = c.firstSeq + c.readings.length;
    }
    return out;
  }
}
