import { ProtocolError } from './errors.js';

/** The tree's one growable writer (device-sdk/src/byte-writer.ts) carries the batch format's encodings. */
export { ByteWriter } from '@fieldmesh/device-sdk/byte-writer';

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
