/**
 * The one growable byte writer of the tree: the fm-frame codec, the uplink batch codec
 * (protocol) and the mesh codec all append through it. Fixed-width fields are big-endian;
 * varints are unsigned LEB128 (zigzag for signed). Numbers stay below 2^53 by construction of
 * each format, so plain JS numbers suffice (no BigInt: it would cost most of the drain rate).
 * `maxBytes` bounds what may be written (a frame's size limit): one more byte throws `overflow`.
 */
export class ByteWriter {
  private buf: Buffer;
  private len = 0;
  private readonly max: number;
  private readonly overflow: (bytes: number) => Error;

  constructor(opts: number | { initial?: number; maxBytes?: number; overflow?: (bytes: number) => Error } = 1024) {
    const o = typeof opts === 'number' ? { initial: opts } : opts;
    this.max = o.maxBytes ?? Infinity;
    this.overflow = o.overflow ?? ((bytes) => new RangeError(`${bytes} bytes exceed the writer's limit of ${this.max}`));
    this.buf = Buffer.allocUnsafe(Math.max(1, Math.min(o.initial ?? 1024, this.max)));
  }

  /** Makes room for `n` more bytes (growing by doubling), or throws past `maxBytes`. */
  room(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length && need <= this.max) return;
    if (need > this.max) throw this.overflow(need);
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.room(2);
    this.buf.writeUInt16BE(v, this.len);
    this.len += 2;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.len);
    this.len += 4;
    return this;
  }

  u48(v: number): this {
    this.room(6);
    this.buf.writeUIntBE(v, this.len, 6);
    this.len += 6;
    return this;
  }

  i8(v: number): this {
    this.room(1);
    this.buf.writeInt8(v, this.len);
    this.len += 1;
    return this;
  }

  i16(v: number): this {
    this.room(2);
    this.buf.writeInt16BE(v, this.len);
    this.len += 2;
    return this;
  }

  i32(v: number): this {
    this.room(4);
    this.buf.writeInt32BE(v, this.len);
    this.len += 4;
    return this;
  }

  f32(v: number): this {
    this.room(4);
    this.buf.writeFloatBE(v, this.len);
    this.len += 4;
    return this;
  }

  f64(v: number): this {
    this.room(8);
    this.buf.writeDoubleBE(v, this.len);
    this.len += 8;
    return this;
  }

  /** Unsigned LEB128; `v` must be a non-negative safe integer. */
  uvarint(v: number): this {
    if (this.len + 8 > this.buf.length || this.len + 8 > this.max) {
      // Near the end of the buffer or of maxBytes: byte by byte, so the limit counts only the
      // bytes really written.
      while (v >= 0x80) {
        this.u8((v % 0x80) | 0x80);
        v = Math.floor(v / 0x80);
      }
      return this.u8(v);
    }
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
    return this;
  }

  /** Zigzag then LEB128, so small negative numbers stay short. |v| must be < 2^52. */
  svarint(v: number): this {
    return this.uvarint(v < 0 ? -v * 2 - 1 : v * 2);
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /** UTF-8 with a uvarint length prefix. */
  text(s: string): this {
    const b = Buffer.from(s, 'utf8');
    this.uvarint(b.length);
    return this.bytes(b);
  }

  /** Overwrites a u16 already written at `at` (a length known only afterwards). */
  patchU16(at: number, v: number): void {
    this.buf.writeUInt16BE(v, at);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.len;
  }

  /** What was written, as a view of the writer's buffer (valid until the next write or reset). */
  finish(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  /** What was written, as a copy of its own (for a writer that is reused). */
  copy(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }

  reset(): this {
    this.len = 0;
    return this;
  }
}
