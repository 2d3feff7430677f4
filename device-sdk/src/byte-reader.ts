/**
 * The tree's one bounds-checked big-endian reader, the reading side of ByteWriter. Each wire
 * format extends it with its own fields (the mesh's u8 strings and addresses, the batch format's
 * varints) and says what an overrun is in its terms: the error `truncated` returns is thrown, so
 * hostile input is that format's counted decode error, never a RangeError.
 */
export class ByteReader {
  pos = 0;
  constructor(
    private readonly buf: Buffer,
    /** The error for a read of `need` bytes at `at` past the end of `length` bytes. */
    private readonly truncated: (need: number, at: number, length: number) => Error,
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw this.truncated(n, this.pos, this.buf.length);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u48(): number {
    this.need(6);
    const v = this.buf.readUIntBE(this.pos, 6);
    this.pos += 6;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}
