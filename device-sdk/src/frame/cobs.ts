/**
 * Consistent Overhead Byte Stuffing (Cheshire & Baker, IEEE/ACM ToN 1999): removes every 0x00
 * from a payload at a cost of at most 1 byte per 254, so 0x00 can delimit frames on a byte
 * stream and a receiver resynchronises at the next 0x00 after any corruption.
 */

/** Worst-case encoded length of `n` payload bytes (without delimiters). */
export function cobsMaxEncodedLength(n: number): number {
  return n + Math.floor(n / 254) + 1;
}

export function cobsEncode(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxEncodedLength(src.length));
  let codeAt = 0;
  let o = 1;
  let code = 1;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === 0) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
    } else {
      out[o++] = b;
      code++;
      if (code === 0xff) {
        out[codeAt] = code;
        codeAt = o++;
        code = 1;
      }
    }
  }
  out[codeAt] = code;
  return out.subarray(0, o);
}

/**
 * Decodes one COBS block (no 0x00 inside). Returns undefined when the block is not valid COBS
 * (a 0x00 byte, or a code byte pointing past the end): the caller counts it as malformed.
 */
export function cobsDecode(src: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(src.length);
  let o = 0;
  let i = 0;
  while (i < src.length) {
    const code = src[i]!;
    if (code === 0) return undefined;
    if (i + code > src.length) return undefined;
    for (let k = 1; k < code; k++) {
      const b = src[i + k]!;
      if (b === 0) return undefined;
      out[o++] = b;
    }
    i += code;
    if (code < 0xff && i < src.length) out[o++] = 0;
  }
  return out.subarray(0, o);
}
