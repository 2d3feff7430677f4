/**
 * Splits a byte stream into lines for the text profiles. A line is ended by LF (a trailing CR is
 * dropped: NMEA and most firmware send CRLF). A line longer than `maxLength` is not buffered: its
 * bytes are dropped as they come and it is reported once, as oversized, when its LF arrives.
 */
export type LineEvent = { kind: 'line'; bytes: Uint8Array } | { kind: 'oversized'; bytes: number };

export class LineSplitter {
  private buf: Uint8Array;
  private len = 0;
  private overflow = 0;

  constructor(private readonly maxLength: number) {
    this.buf = new Uint8Array(maxLength + 1);
  }

  push(chunk: Uint8Array, out: (e: LineEvent) => void): void {
    let from = 0;
    while (from < chunk.length) {
      const lf = chunk.indexOf(0x0a, from);
      const stop = lf < 0 ? chunk.length : lf;
      const n = stop - from;
      // +1: the CR of a CRLF line of exactly maxLength characters still fits.
      if (this.overflow > 0 || this.len + n > this.maxLength + 1) this.overflow += n;
      else {
        this.buf.set(chunk.subarray(from, stop), this.len);
        this.len += n;
      }
      if (lf < 0) break;
      this.flush(out);
      from = lf + 1;
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
    let end = this.len;
    if (this.overflow === 0 && end > 0 && this.buf[end - 1] === 0x0d) end--;
    if (this.overflow > 0 || end > this.maxLength) out({ kind: 'oversized', bytes: this.len + this.overflow + 1 });
    else out({ kind: 'line', bytes: this.buf.slice(0, end) });
    this.len = 0;
    this.overflow = 0;
  }
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
