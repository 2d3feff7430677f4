import { ByteReader as SharedByteReader } from '@fieldmesh/device-sdk/byte-reader';
import { ProtocolError } from './errors.js';

/** The tree's one growable writer (device-sdk/src/byte-writer.ts) carries the batch format's encodings. */
export { ByteWriter } from '@fieldmesh/device-sdk/byte-writer';

/** The tree's reader plus the batch format's varints and strings: every overrun is FM_ERR_BATCH_TRUNCATED. */
export class ByteReader extends SharedByteReader {
  constructor(
    buf: Buffer,
    private readonly what: string,
  ) {
    super(buf, () => new ProtocolError('FM_ERR_BATCH_TRUNCATED', `${what} ends early`));
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

  text(maxBytes: number): string {
    const n = this.uvarint();
    if (n > maxBytes) throw new ProtocolError('FM_ERR_BATCH_MALFORMED', `${this.what}: string of ${n} bytes over the ${maxBytes} limit`);
    return this.bytes(n).toString('utf8');
  }
}
