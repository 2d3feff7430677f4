/**
 * Modbus RTU framing (Modbus over Serial Line V1.02 §2.5): `unit | PDU | CRC-16 low, high`.
 * RTU has no length field and no delimiter; a master knows where a response ends from the request
 * it sent (the function's fixed length, or a read's byte count). FORMAT.md has the byte layout
 * and test vectors (rtu-vectors.json).
 */
import { crc16Modbus } from './crc16.js';
import { responsePduLength } from './pdu.js';

/** §2.5.1: a serial line PDU is at most 253 bytes; unit + PDU + CRC at most 256. */
export const MAX_RTU_FRAME = 256;

export function encodeRtuFrame(unit: number, pdu: Uint8Array): Uint8Array {
  const out = new Uint8Array(pdu.length + 3);
  out[0] = unit;
  out.set(pdu, 1);
  const crc = crc16Modbus(out, 0, pdu.length + 1);
  out[pdu.length + 1] = crc & 0xff;
  out[pdu.length + 2] = crc >>> 8;
  return out;
}

export type RtuDecode =
  /** More bytes are needed (a timeout or a 3.5-character silence then means a short frame). */
  | { kind: 'incomplete' }
  /** A whole frame from the expected unit: `pdu` (function + data), `length` bytes consumed. */
  | { kind: 'frame'; pdu: Uint8Array; length: number }
  /** Not the response: the fault to count. `length` bytes (0 = all so far) are noise. */
  | { kind: 'bad'; fault: 'crc' | 'wrong_unit' | 'wrong_function' | 'bad_length'; length: number };

/**
 * Reads the response to a request of function `fc` to `unit` from the bytes received so far.
 * Pure and total: any byte sequence gives one of the three outcomes (fast-check holds it to
 * that), and feeding a frame cut at any position gives `incomplete` until its last byte.
 */
export function decodeRtuResponse(buf: Uint8Array, unit: number, fc: number): RtuDecode {
  if (buf.length < 2) return { kind: 'incomplete' };
  const pduLen = responsePduLength(fc, buf, 1, buf.length - 1);
  if (pduLen === undefined) return { kind: 'incomplete' };
  // A function we did not ask for: its length is unknowable, so everything so far is noise.
  if (pduLen < 0) return { kind: 'bad', fault: 'wrong_function', length: 0 };
  const total = 1 + pduLen + 2;
  if (total > MAX_RTU_FRAME) return { kind: 'bad', fault: 'bad_length', length: 0 };
  if (buf.length < total) return { kind: 'incomplete' };
  const crc = crc16Modbus(buf, 0, total - 2);
  if (buf[total - 2] !== (crc & 0xff) || buf[total - 1] !== crc >>> 8) return { kind: 'bad', fault: 'crc', length: total };
  if (buf[0] !== unit) return { kind: 'bad', fault: 'wrong_unit', length: total };
  return { kind: 'frame', pdu: buf.slice(1, total - 2), length: total };
}

/**
 * Seconds of one character on the line: start bit, 8 data bits, parity or a second stop bit, one
 * stop bit = 11 bits (§2.5.1; 8N1 is 10 bits, but the spec's timing assumes 11, and so do we).
 */
export function charTimeMs(baud: number, bitsPerChar = 11): number {
  return (bitsPerChar * 1000) / baud;
}

/**
 * The inter-frame silence t3.5 (§2.5.1.1): 3.5 character times, and fixed at 1.75 ms above
 * 19200 baud, where the spec notes that per-character timing is too tight for UARTs to honour.
 */
export function interFrameGapMs(baud: number, bitsPerChar = 11): number {
  return baud > 19_200 ? 1.75 : 3.5 * charTimeMs(baud, bitsPerChar);
}
