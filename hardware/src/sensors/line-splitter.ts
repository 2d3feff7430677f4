import type { Reading } from '@fieldmesh/device-sdk';
import { ParserCounters, type FeedResult, type SensorParser, type SensorParserOptions, type SensorParserStats } from './parser.js';

/**
 * Splits a byte stream into lines for the text profiles. A line ends at LF or CR: NMEA and
 * Arduino's println send CRLF (which then yields an empty line, ignored by every profile), some
 * firmware sends CR alone. A line longer than `maxLength` is not buffered: its bytes are dropped
 * as they come and it is reported once, as oversized, when its end arrives.
 */
export type LineEvent = { kind: 'line'; bytes: Uint8Array } | { kind: 'oversized'; bytes: number };

export class LineSplitter {
  private buf: Uint8Array;
  private len = 0;
  private overflow = 0;

  constructor(private readonly maxLength: number) {
    this.buf = new Uint8Array(maxLength);
  }

  push(chunk: Uint8Array, out: (e: LineEvent) => void): void {
    let from = 0;
    while (from < chunk.length) {
      let stop = from;
      while (stop < chunk.length && chunk[stop] !== 0x0a && chunk[stop] !== 0x0d) stop++;
      const n = stop - from;
      if (this.overflow > 0 || this.len + n > this.maxLength) this.overflow += n;
      else {
        this.buf.set(chunk.subarray(from, stop), this.len);
        this.len += n;
      }
      if (stop === chunk.length) break;
      this.flush(out);
      from = stop + 1;
    }
  }

  /** Drops a partial line; returns how many bytes it held. */
  reset(): number {
    const n = this.len + this.overflow;
    this.len = 0;
    this.overflow = 0;
    return n;
  }

  private flush(out: (e: LineEvent) => void): void {
    if (this.overflow > 0) out({ kind: 'oversized', bytes: this.len + this.overflow + 1 });
    else out({ kind: 'line', bytes: this.buf.slice(0, this.len) });
    this.len = 0;
    this.overflow = 0;
  }
}

/** A line of nothing but spaces and tabs (or nothing): skipped, not counted, by every text profile. */
export function isBlank(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0x20 && b[i] !== 0x09) return false;
  return true;
}

/** True when every byte is printable ASCII or TAB: anything else on a text line is line noise. */
export function isPrintableAscii(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if ((c < 0x20 && c !== 0x09) || c > 0x7e) return false;
  }
  return true;
}

export function asciiString(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/**
 * The scaffold every line-based profile shares: split the stream into lines, count oversized ones,
 * skip blank ones, and keep the counters; a profile only says what one complete line means.
 */
export abstract class LineProtocolParser implements SensorParser {
  protected readonly c = new ParserCounters();
  private readonly split: LineSplitter;

  constructor(
    protected readonly opts: SensorParserOptions,
    maxLength: number,
  ) {
    this.split = new LineSplitter(maxLength);
  }

  /**
   * Handles one non-blank line (without its terminator): pushes its readings to `out` and counts
   * them with `this.c.accept`, or counts a rejection (the line's size is `bytes.length + 1`).
   */
  protected abstract parseLine(bytes: Uint8Array, now: number, out: Reading[]): void;

  feed(chunk: Uint8Array, now: number): FeedResult {
    this.c.begin(chunk.length);
    const readings: Reading[] = [];
    this.split.push(chunk, (e) => {
      if (e.kind === 'oversized') return this.c.reject('oversized', e.bytes);
      if (isBlank(e.bytes)) return;
      this.parseLine(e.bytes, now, readings);
    });
    return this.c.end(readings);
  }

  reset(): void {
    const n = this.split.reset();
    if (n > 0) this.c.reject('noise', n);
  }

  stats(): SensorParserStats {
    return this.c.snapshot();
  }
}
