import { ProtocolError } from './errors.js';

/**
 * Growable byte buffer with the primitive encodings of the batch format (FORMAT.md §2):
 * unsigned LEB128 varints, zigzag for signed values, fixed-width big-endian floats.
 * Numbers stay below 2^53 by construction of the format, so plain JS numbers suffice (no BigInt:
 * it would cost most of the drain throughput).
 */
export class ByteWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initial = 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.len++] = v;
  }

  /** Unsigned LEB128; `v` must be a non-negative safe integer. */
  uvarint(v: number): void {
    this.room(8);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }

  /** Zigzag then LEB128, so small negative numbers stay short. |v| must be < 2^52. */
  svarint(v: number): void {
    this.uvarint(v < 0 ? -v * 2 - 1 : v * 2);
  }

  f64xor(bitsHi: number, bitsLo: number): void {
    this.room(8);
    this.buf.writeUInt32BE(bitsHi >>> 0, this.len);
    this.buf.writeUInt32BE(bitsLo >>> 0, this.len + 4);
    this.len += 8;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** Length-prefixed UTF-8. */
  text(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.uvarint(b.length);
    this.bytes(b);
  }

  get length(): number {
    return this.len;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** Bounds-checked reader: every overrun is FM_ERR_BATCH_TRUNCATED, never a RangeError. */
export class ByteReader {
  pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new ProtocolError('FM_ERR_BATCH_TRUNCATED', `${this.what} ends early`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  uvarint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      // 8 groups of 7 bits = 56 bits: more would pass 2^53 and lose precision.
      if (i === 8) throw new ProtocolError('FM_ERR_BATCH_MALFORMED', `${this.what}: varint longer than 8 bytes`);
      const b = this.u8();
      v += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 0x80;
    }
    if (v > Number.MAX_SAFE_INTEGER) throw new ProtocolError('FM_ERR_BATCH_MALFORMED', `${this.what}: varint above 2^53`);
    return v;
  }

  svarint(): number {
    const z = this.uvarint();
    return z % 2 === 1 ? -(z + 1) / 2 : z / 2;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  text(maxBytes: number): string {
    const n = this.uvarint();
    if (n > maxBytes) throw new ProtocolError('FM_ERR_BATCH_MALFORMED', `${this.what}: string of ${n} bytes over the ${maxBytes} limit`);
    return this.bytes(n).toString('utf8');
  }
}
