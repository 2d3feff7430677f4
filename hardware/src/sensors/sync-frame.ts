/**
 * Fixed-length binary frames found by a two-byte sync header (Plantower PMS5003, Winsen MH-Z19).
 *
 * Counting rule, so that rejected counts are exact whatever the read boundaries: one rejection
 * per frame whose checksum fails, and one per maximal run of bytes thrown away while hunting
 * for a header, except that bytes thrown away right after a bad frame belong to that frame's
 * rejection. After a bad checksum the hunt resumes one byte into the bad frame, so a good frame
 * that started inside a truncated one (a byte lost on the UART) is still found.
 */
import type { Reading } from '@fieldmesh/device-sdk';
import { ParserCounters, type FeedResult, type PollCommand, type SensorParser } from './parser.js';

export type FrameVerdict = { ok: true; readings: Reading[] } | { ok: false; reason: 'checksum' | 'malformed' };

export interface SyncFrameSpec {
  header: readonly [number, number];
  length: number;
  /** Checks header bytes beyond the sync (e.g. a length field) once `headerLength` bytes are in. */
  headerLength?: number;
  headerOk?(frame: Uint8Array): boolean;
  read(frame: Uint8Array, now: number): FrameVerdict;
  poll?: PollCommand;
}

export class SyncFrameParser implements SensorParser {
  private readonly buf: Uint8Array;
  private len = 0;
  /** True while discarded bytes extend a rejection already counted. */
  private inRejection = false;
  private readonly c = new ParserCounters();
  readonly poll?: PollCommand;

  constructor(private readonly spec: SyncFrameSpec) {
    this.buf = new Uint8Array(spec.length);
    if (spec.poll) this.poll = spec.poll;
  }

  feed(chunk: Uint8Array, now: number): FeedResult {
    this.c.begin(chunk.length);
    const readings: Reading[] = [];
    for (let i = 0; i < chunk.length; i++) {
      this.buf[this.len++] = chunk[i]!;
      // Re-examine the buffer from its start until it is a plausible partial frame.
      while (this.len > 0) {
        if (!this.plausible()) {
          this.drop(1);
          continue;
        }
        if (this.len < this.spec.length) break;
        const v = this.spec.read(this.buf, now);
        if (v.ok) {
          readings.push(...v.readings);
          this.c.accept(v.readings.length);
          this.inRejection = false;
          this.len = 0;
        } else {
          this.c.reject(v.reason, 1);
          this.inRejection = true;
          this.shift(1);
        }
      }
    }
    return this.c.end(readings);
  }

  reset(): void {
    if (this.len > 0 && !this.inRejection) this.c.reject('noise', this.len);
    else this.c.discard(this.len);
    this.len = 0;
    this.inRejection = false;
  }

  stats() {
    return this.c.snapshot();
  }

  private drop(n: number): void {
    if (this.inRejection) this.c.discard(n);
    else {
      this.c.reject('noise', n);
      this.inRejection = true;
    }
    this.shift(n);
  }

  private shift(n: number): void {
    this.buf.copyWithin(0, n, this.len);
    this.len -= n;
  }

  private plausible(): boolean {
    const b = this.buf;
    const hlen = this.spec.headerLength ?? 2;
    if (b[0] !== this.spec.header[0] || (this.len >= 2 && b[1] !== this.spec.header[1])) return false;
    return !(this.len >= hlen && this.spec.headerOk && !this.spec.headerOk(b));
  }
}
