/**
 * Register values to readings and back (README "Types and word order"). A multi-register value
 * is laid out as bytes A B C D … with A the most significant: ABCD is big endian (the Modbus
 * convention, §4.2 of the application protocol: "big-Endian representation"), CDAB swaps the
 * 16-bit words (low word first, common on PLCs), BADC swaps the bytes inside each word, DCBA
 * is fully little endian. For 64-bit values the same rule runs over four words.
 */
import type { RegisterSpec } from '../../config/modbus.js';

/** Big-endian bytes of `count` registers from `regs[at]`, re-ordered to ABCD… per `order`. */
function canonicalBytes(regs: Uint16Array, at: number, count: number, order: RegisterSpec['order']): Buffer {
  const out = Buffer.alloc(count * 2);
  const wordSwap = order === 'CDAB' || order === 'DCBA';
  const byteSwap = order === 'BADC' || order === 'DCBA';
  for (let i = 0; i < count; i++) {
    const w = regs[at + (wordSwap ? count - 1 - i : i)]!;
    out[2 * i] = byteSwap ? w & 0xff : w >>> 8;
    out[2 * i + 1] = byteSwap ? w >>> 8 : w & 0xff;
  }
  return out;
}

function fromCanonical(bytes: Buffer, order: RegisterSpec['order']): number[] {
  const count = bytes.length / 2;
  const wordSwap = order === 'CDAB' || order === 'DCBA';
  const byteSwap = order === 'BADC' || order === 'DCBA';
  const regs = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const hi = bytes[2 * i]!;
    const lo = bytes[2 * i + 1]!;
    regs[wordSwap ? count - 1 - i : i] = byteSwap ? (lo << 8) | hi : (hi << 8) | lo;
  }
  return regs;
}

/** The raw number (before scale) of a numeric register spec. 64-bit integers beyond 2^53 lose precision. */
export function rawNumber(spec: RegisterSpec, regs: Uint16Array, at: number): number {
  if (spec.type === 'int16' || spec.type === 'uint16') {
    let w = regs[at]!;
    if (spec.order === 'BADC' || spec.order === 'DCBA') w = ((w & 0xff) << 8) | (w >>> 8);
    return spec.type === 'int16' ? (w << 16) >> 16 : w;
  }
  const b = canonicalBytes(regs, at, spec.length, spec.order);
  switch (spec.type) {
    case 'int32':
      return b.readInt32BE(0);
    case 'uint32':
      return b.readUInt32BE(0);
    case 'float32':
      return b.readFloatBE(0);
    case 'int64':
      return Number(b.readBigInt64BE(0));
    case 'uint64':
      return Number(b.readBigUInt64BE(0));
    case 'float64':
      return b.readDoubleBE(0);
    default:
      throw new TypeError(`${spec.type} is not numeric`);
  }
}

/** The reading's value: scaled number, or a string (NULs and trailing spaces trimmed). */
export function decodeRegisters(spec: RegisterSpec, regs: Uint16Array, at: number): number | string {
  if (spec.type === 'string') {
    const b = canonicalBytes(regs, at, spec.length, spec.order === 'BADC' || spec.order === 'DCBA' ? 'BADC' : 'ABCD');
    const end = b.indexOf(0);
    return b
      .subarray(0, end < 0 ? b.length : end)
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '?')
      .trimEnd();
  }
  const raw = rawNumber(spec, regs, at);
  return spec.scale === 1 && spec.offset === 0 ? raw : raw * spec.scale + spec.offset;
}

const INT_RANGE: Record<string, [bigint, bigint]> = {
  int16: [-(1n << 15n), (1n << 15n) - 1n],
  uint16: [0n, (1n << 16n) - 1n],
  int32: [-(1n << 31n), (1n << 31n) - 1n],
  uint32: [0n, (1n << 32n) - 1n],
  int64: [-(1n << 63n), (1n << 63n) - 1n],
  uint64: [0n, (1n << 64n) - 1n],
};

/**
 * Registers for writing `value` (the reading's unit, before un-scaling) to a holding register
 * spec, or a message saying why it does not fit. Integers are rounded after removing scale and
 * offset; a value out of the type's range is refused, never wrapped.
 */
export function encodeRegisters(spec: RegisterSpec, value: number | string): number[] | string {
  if (spec.type === 'string') {
    if (typeof value !== 'string') return `${spec.sensor} is a string register`;
    const b = Buffer.alloc(spec.length * 2);
    if (Buffer.byteLength(value, 'latin1') > b.length) return `${spec.sensor} holds at most ${b.length} characters`;
    b.write(value, 'latin1');
    return fromCanonical(b, spec.order === 'BADC' || spec.order === 'DCBA' ? 'BADC' : 'ABCD');
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) return `${spec.sensor} needs a finite number`;
  const raw = (value - spec.offset) / spec.scale;
  const b = Buffer.alloc(spec.length * 2);
  if (spec.type === 'float32') b.writeFloatBE(raw, 0);
  else if (spec.type === 'float64') b.writeDoubleBE(raw, 0);
  else {
    const [lo, hi] = INT_RANGE[spec.type]!;
    const n = BigInt(Math.round(raw));
    if (n < lo || n > hi) return `${value} is ${Math.round(raw)} raw, outside ${spec.type} (${lo}..${hi})`;
    const u = n < 0n ? (1n << BigInt(spec.length * 16)) + n : n;
    for (let i = 0; i < spec.length * 2; i++) b[spec.length * 2 - 1 - i] = Number((u >> BigInt(8 * i)) & 0xffn);
  }
  if (spec.length === 1) {
    const w = (b[0]! << 8) | b[1]!;
    return [spec.order === 'BADC' || spec.order === 'DCBA' ? ((w & 0xff) << 8) | (w >>> 8) : w];
  }
  return fromCanonical(b, spec.order);
}
