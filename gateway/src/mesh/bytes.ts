import { isIPv4 } from 'node:net';
import { ByteReader as SharedByteReader } from '@fieldmesh/device-sdk/byte-reader';
import { ByteWriter } from '@fieldmesh/device-sdk/byte-writer';
import { parseAddress } from './address.js';

/** A decoding failure of hostile or corrupt input: caught by the receive loop and counted. */
export class CodecError extends Error {
  override name = 'CodecError';
}

/**
 * The mesh's writer: the tree's ByteWriter plus the mesh's own fields (u8-length strings,
 * addresses). The mesh never needs more than 64 KiB.
 */
export class MeshWriter extends ByteWriter {
  constructor(capacity = 65536) {
    super(capacity);
  }

  /** UTF-8 string with a one-byte length prefix (at most 255 bytes). */
  str8(s: string): this {
    const n = Buffer.byteLength(s);
    if (n > 255) throw new CodecError(`string of ${n} bytes does not fit a u8 length`);
    this.u8(n);
    return this.bytes(Buffer.from(s, 'utf8'));
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
}

/** The mesh's reader: the tree's ByteReader plus u8-length strings and addresses; overruns are CodecErrors. */
export class ByteReader extends SharedByteReader {
  constructor(buf: Buffer) {
    super(buf, (n, at, length) => new CodecError(`truncated: need ${n} bytes at ${at} of ${length}`));
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
