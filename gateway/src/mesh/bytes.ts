import { isIPv4 } from 'node:net';
import { parseAddress } from './address.js';

/** A decoding failure of hostile or corrupt input: caught by the receive loop and counted. */
export class CodecError extends Error {
  override name = 'CodecError';
}

/** Appends big-endian fields to a buffer of fixed capacity; the mesh never needs more than 64 KiB. */
export class ByteWriter {
  private buf: Buffer;
  pos = 0;

  constructor(capacity = 65536) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  private room(n: number): void {
    if (this.pos + n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(bigger, 0, 0, this.pos);
      this.buf = bigger;
    }
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.room(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  u48(v: number): this {
    this.room(6);
    this.buf.writeUIntBE(v, this.pos, 6);
    this.pos += 6;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** UTF-8 string with a one-byte length prefix (at most 255 bytes). */
  str8(s: string): this {
    const n = Buffer.byteLength(s);
    if (n > 255) throw new CodecError(`string of ${n} bytes does not fit a u8 length`);
    this.room(1 + n);
    this.buf[this.pos++] = n;
    this.buf.write(s, this.pos);
    this.pos += n;
    return this;
  }

  /** family (4|6), 4 or 16 address bytes, u16 port. */
  addr(text: string): this {
    const { host, port } = parseAddress(text);
    if (isIPv4(host)) {
      this.u8(4);
      for (const part of host.split('.')) this.u8(Number(part));
    } else {
      this.u8(6);
      this.bytes(ipv6Bytes(host));
    }
    return this.u16(port);
  }

  patchU16(at: number, v: number): void {
    this.buf.writeUInt16BE(v, at);
  }

  /** A copy of what was written so far. */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  reset(): this {
    this.pos = 0;
    return this;
  }
}

export class ByteReader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new CodecError(`truncated: need ${n} bytes at ${this.pos} of ${this.buf.length}`);
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

  str8(): string {
    const n = this.u8();
    return this.bytes(n).toString('utf8');
  }

  addr(): string {
    const family = this.u8();
    if (family === 4) {
      const b = this.bytes(4);
      return `${b[0]}.${b[1]}.${b[2]}.${b[3]}:${this.u16()}`;
    }
    if (family === 6) {
      const b = this.bytes(16);
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
      return `[${compressIPv6(groups)}]:${this.u16()}`;
    }
    throw new CodecError(`unknown address family ${family}`);
  }
}

function ipv6Bytes(host: string): Uint8Array {
  const [head, tail] = host.includes('::') ? host.split('::') : [host, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

/** RFC 5952 form: the longest run of zero groups (at least two) becomes "::". */
function compressIPv6(groups: string[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart === -1) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}
