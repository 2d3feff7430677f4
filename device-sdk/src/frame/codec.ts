/**
 * fm-frame v1 codec: the fieldmesh binary frame for microcontrollers. The normative spec is
 * device-sdk/FORMAT.md; test vectors in device-sdk/vectors/fm-frame-v1.json are shared with the C
 * encoder (device-sdk/c/fieldmesh.h). Keep the three in step.
 */
import { ByteWriter } from '../byte-writer.js';
import { DEVICE_ID, SENSOR_NAME, type Reading, type ReadingValue } from '../reading.js';
import { cobsDecode, cobsEncode } from './cobs.js';
import { crc16 } from './crc16.js';
import { FrameEncodeError, type FrameRejectCode } from './errors.js';

export const FRAME_VERSION = 1;
/**
 * Largest frame before COBS, CRC included. 1 KiB holds ~100 numeric readings yet fits the RAM of
 * an ATmega328 bridge buffer alongside its sketch; the decoder needs no more than this per port.
 */
export const FRAME_MAX_BYTES = 1024;
const FLAG_BASE_TIME = 0x01;
const MAX_AGE_MS = 0xffffffff;
const INDEX_NAME = /^(0|[1-9][0-9]{0,2})$/;

export const VALUE_TYPES = ['i8', 'i16', 'i32', 'f32', 'f64', 'false', 'true', 'str'] as const;
export type ValueType = 'i8' | 'i16' | 'i32' | 'f32' | 'f64' | 'bool' | 'str';

export interface FrameReadingInput {
  /** Sensor name (SENSOR_NAME alphabet, ≤ 127 bytes) or an index 0–127 (named by its decimal digits). */
  sensor: string | number;
  value: ReadingValue;
  /** How long before the frame was sent the value was measured, ms (0 … 2^32−1). Default 0. */
  ageMs?: number;
  /** Wire type; default: the smallest exact one (integers i8/i16/i32, else f32 if exact, else f64). */
  type?: ValueType;
  /** Decimal exponent −8…7 for integer types: the wire carries round(value / 10^exp). Default 0. */
  exp?: number;
}

export interface FrameInput {
  /** Device id; omitted or '' means "the device configured for the serial port". */
  device?: string;
  /** Frame sequence number, 0–65535, incremented per frame by the sender (wraps). */
  seq: number;
  /** Sender's wall clock at sending, ms since the Unix epoch, when it has one (RTC, GPS, NTP). */
  baseTime?: number;
  readings: readonly FrameReadingInput[];
}

export interface FrameReading {
  sensor: string;
  value: ReadingValue;
  ageMs: number;
}

export interface Frame {
  version: number;
  /** Empty when the frame leaves the device to the receiver. */
  device: string;
  seq: number;
  baseTime?: number;
  readings: FrameReading[];
}

export type DecodeResult = { ok: true; frame: Frame } | { ok: false; code: FrameRejectCode };

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The wire type the encoder picks when a reading names none: the smallest exact one. */
export function pickType(v: ReadingValue): ValueType {
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'str';
  if (Number.isInteger(v)) {
    if (v >= -128 && v <= 127) return 'i8';
    if (v >= -32768 && v <= 32767) return 'i16';
    if (v >= -2147483648 && v <= 2147483647) return 'i32';
  }
  return Math.fround(v) === v || Number.isNaN(v) ? 'f32' : 'f64';
}

/** Frame contents up to the CRC: FRAME_MAX_BYTES less the two CRC bytes. */
function frameWriter(): ByteWriter {
  return new ByteWriter({ maxBytes: FRAME_MAX_BYTES - 2, overflow: () => new FrameEncodeError(`frame exceeds ${FRAME_MAX_BYTES} bytes`) });
}

/** Frame contents with CRC, before COBS (what the vectors call `body`). Throws FrameEncodeError. */
export function encodeFrameBody(input: FrameInput): Uint8Array {
  const w = frameWriter();
  const device = input.device ?? '';
  if (device !== '' && !DEVICE_ID.test(device)) throw new FrameEncodeError(`device id ${JSON.stringify(device)} is not [A-Za-z0-9][A-Za-z0-9_.-]{0,63}`);
  if (!Number.isInteger(input.seq) || input.seq < 0 || input.seq > 0xffff) throw new FrameEncodeError(`seq ${input.seq} is not 0…65535`);
  const hasBase = input.baseTime !== undefined;
  if (hasBase && (!Number.isInteger(input.baseTime) || input.baseTime! < 0 || input.baseTime! > 2 ** 48 - 1)) {
    throw new FrameEncodeError(`baseTime ${input.baseTime} is not an integer 0…2^48−1 ms`);
  }
  if (input.readings.length > 255) throw new FrameEncodeError(`${input.readings.length} readings; at most 255 per frame`);
  w.u8(FRAME_VERSION);
  w.u8(hasBase ? FLAG_BASE_TIME : 0);
  w.u8(device.length);
  w.bytes(utf8.encode(device));
  w.u16(input.seq);
  if (hasBase) w.u48(input.baseTime!);
  w.u8(input.readings.length);
  for (const r of input.readings) encodeReading(w, r);
  const content = w.finish();
  const crc = crc16(content, 0, content.length);
  const out = new Uint8Array(content.length + 2);
  out.set(content);
  out[content.length] = crc >> 8;
  out[content.length + 1] = crc & 0xff;
  return out;
}

function encodeReading(w: ByteWriter, r: FrameReadingInput): void {
  const type = r.type ?? pickType(r.value);
  const exp = r.exp ?? 0;
  const isInt = type === 'i8' || type === 'i16' || type === 'i32';
  if (!Number.isInteger(exp) || exp < -8 || exp > 7 || (exp !== 0 && !isInt)) {
    throw new FrameEncodeError(`exponent ${exp} for sensor ${r.sensor}: integer types take −8…7, others 0`);
  }
  let code: number;
  if (type === 'bool') {
    if (typeof r.value !== 'boolean') throw new FrameEncodeError(`sensor ${r.sensor}: type bool needs a boolean`);
    code = r.value ? 6 : 5;
  } else code = VALUE_TYPES.indexOf(type as (typeof VALUE_TYPES)[number]);
  if (code < 0) throw new FrameEncodeError(`sensor ${r.sensor}: unknown type ${String(type)}`);
  w.u8((code << 4) | (exp & 0x0f));
  if (typeof r.sensor === 'number' && (!Number.isInteger(r.sensor) || r.sensor < 0 || r.sensor > 127)) {
    throw new FrameEncodeError(`sensor index ${r.sensor} is not 0…127`);
  }
  // Canonical form (FORMAT.md §4): names that are an index 0–127 always travel as one byte, so
  // every encoder (this one, fieldmesh.h) produces the same bytes for the same readings.
  const index = typeof r.sensor === 'number' ? r.sensor : INDEX_NAME.test(r.sensor) ? Number(r.sensor) : -1;
  if (index >= 0 && index <= 127) w.u8(0x80 | index);
  else if (typeof r.sensor === 'string') {
    if (!SENSOR_NAME.test(r.sensor) || r.sensor.length > 127) throw new FrameEncodeError(`sensor name ${JSON.stringify(r.sensor)} is not a ≤127-byte SENSOR_NAME`);
    w.u8(r.sensor.length);
    w.bytes(utf8.encode(r.sensor));
  }
  const age = r.ageMs ?? 0;
  if (!Number.isInteger(age) || age < 0 || age > MAX_AGE_MS) throw new FrameEncodeError(`sensor ${r.sensor}: ageMs ${age} is not 0…2^32−1`);
  w.uvarint(age);
  if (type === 'bool') return;
  if (type === 'str') {
    if (typeof r.value !== 'string') throw new FrameEncodeError(`sensor ${r.sensor}: type str needs a string`);
    const b = utf8.encode(r.value);
    if (b.length > 255) throw new FrameEncodeError(`sensor ${r.sensor}: string of ${b.length} bytes; at most 255`);
    w.u8(b.length);
    w.bytes(b);
    return;
  }
  if (typeof r.value !== 'number' || !Number.isFinite(r.value)) throw new FrameEncodeError(`sensor ${r.sensor}: type ${type} needs a finite number`);
  if (isInt) {
    const scaled = Math.round(exp < 0 ? r.value * 10 ** -exp : r.value / 10 ** exp);
    const [lo, hi, size] = type === 'i8' ? [-128, 127, 1] : type === 'i16' ? [-32768, 32767, 2] : [-2147483648, 2147483647, 4];
    if (scaled < lo || scaled > hi) throw new FrameEncodeError(`sensor ${r.sensor}: ${r.value} (×10^${-exp} = ${scaled}) does not fit ${type}`);
    if (size === 1) w.i8(scaled);
    else if (size === 2) w.i16(scaled);
    else w.i32(scaled);
  } else if (type === 'f32') w.f32(r.value);
  else w.f64(r.value);
}

/** Bytes as sent on the line: 0x00, COBS(body), 0x00 (FORMAT.md §1). Throws FrameEncodeError. */
export function encodeFrame(input: FrameInput): Uint8Array {
  const cobs = cobsEncode(encodeFrameBody(input));
  const out = new Uint8Array(cobs.length + 2);
  out.set(cobs, 1);
  return out;
}

/** Decodes one COBS block (the bytes between two 0x00 delimiters). Never throws. */
export function decodeFrameBlock(block: Uint8Array): DecodeResult {
  const body = cobsDecode(block);
  if (!body) return { ok: false, code: 'FM_ERR_FRAME_COBS' };
  if (body.length > FRAME_MAX_BYTES) return { ok: false, code: 'FM_ERR_FRAME_OVERSIZED' };
  return decodeFrameBody(body);
}

/** Decodes a frame body (after COBS, CRC included). Never throws. */
export function decodeFrameBody(body: Uint8Array): DecodeResult {
  if (body.length < 3) return { ok: false, code: 'FM_ERR_FRAME_TRUNCATED' };
  const end = body.length - 2;
  if (crc16(body, 0, end) !== ((body[end]! << 8) | body[end + 1]!)) return { ok: false, code: 'FM_ERR_FRAME_CRC' };
  if (body[0] !== FRAME_VERSION) return { ok: false, code: 'FM_ERR_FRAME_VERSION' };
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let p = 1;
  const need = (k: number) => p + k <= end;
  if (!need(2)) return { ok: false, code: 'FM_ERR_FRAME_TRUNCATED' };
  const flags = body[p++]!;
  if (flags & ~FLAG_BASE_TIME) return { ok: false, code: 'FM_ERR_FRAME_FIELD' };
  const dlen = body[p++]!;
  if (!need(dlen + 2)) return { ok: false, code: 'FM_ERR_FRAME_TRUNCATED' };
  const device = ascii(body, p, dlen);
  p += dlen;
  if (dlen > 0 && !DEVICE_ID.test(device)) return { ok: false, code: 'FM_ERR_FRAME_FIELD' };
  const seq = view.getUint16(p);
  p += 2;
  let baseTime: number | undefined;
  if (flags & FLAG_BASE_TIME) {
    if (!need(6)) return { ok: false, code: 'FM_ERR_FRAME_TRUNCATED' };
    baseTime = view.getUint16(p) * 2 ** 32 + view.getUint32(p + 2);
    p += 6;
  }
  if (!need(1)) return { ok: false, code: 'FM_ERR_FRAME_TRUNCATED' };
  const count = body[p++]!;
  const readings: FrameReading[] = [];
  for (let i = 0; i < count; i++) {
    if (!need(2)) return { ok: false, code: 'FM_ERR_FRAME_TRUNCATED' };
    const head = body[p++]!;
    const code = head >> 4;
    const exp = (head & 0x0f) >= 8 ? (head & 0x0f) - 16 : head & 0x0f;
    if (code > 7 || (exp !== 0 && code > 2)) return { ok: false, code: 'FM_ERR_FRAME_FIELD' };
    const s = body[p++]!;
    let sensor: string;
    if (s & 0x80) sensor = String(s & 0x7f);
    else {
      if (s === 0) return { ok: false, code: 'FM_ERR_FRAME_FIELD' };
      if (!need(s)) return { ok: false, code: 'FM_ERR_FRAME_TRUNCATED' };
      sensor = ascii(body, p, s);
      p += s;
      if (!SENSOR_NAME.test(sensor)) return { ok: false, code: 'FM_ERR_FRAME_FIELD' };
    }
    let age = 0;
    for (let shift = 0; ; shift++) {
      if (shift === 5) return { ok: false, code: 'FM_ERR_FRAME_FIELD' };
      if (!need(1)) return { ok: false, code: 'FM_ERR_FRAME_TRUNCATED' };
      const b = body[p++]!;
      age += (b & 0x7f) * 128 ** shift;
      if (!(b & 0x80)) break;
    }
    if (age > MAX_AGE_MS) return { ok: false, code: 'FM_ERR_FRAME_FIELD' };
    let value: ReadingValue;
    const size = [1, 2, 4, 4, 8, 0, 0, -1][code]!;
    if (size < 0) {
      if (!need(1)) return { ok: false, code: 'FM_ERR_FRAME_TRUNCATED' };
      const len = body[p++]!;
      if (!need(len)) return { ok: false, code: 'FM_ERR_FRAME_TRUNCATED' };
      try {
        value = strictUtf8.decode(body.subarray(p, p + len));
      } catch {
        return { ok: false, code: 'FM_ERR_FRAME_FIELD' };
      }
      p += len;
    } else {
      if (!need(size)) return { ok: false, code: 'FM_ERR_FRAME_TRUNCATED' };
      if (code === 5 || code === 6) value = code === 6;
      else {
        const raw = code === 0 ? view.getInt8(p) : code === 1 ? view.getInt16(p) : code === 2 ? view.getInt32(p) : code === 3 ? view.getFloat32(p) : view.getFloat64(p);
        if (!Number.isFinite(raw)) return { ok: false, code: 'FM_ERR_FRAME_FIELD' };
        value = exp === 0 ? raw : exp < 0 ? raw / 10 ** -exp : raw * 10 ** exp;
      }
      p += size;
    }
    readings.push({ sensor, value, ageMs: age });
  }
  if (p !== end) return { ok: false, code: 'FM_ERR_FRAME_FIELD' };
  const frame: Frame = { version: FRAME_VERSION, device, seq, readings };
  if (baseTime !== undefined) frame.baseTime = baseTime;
  return { ok: true, frame };
}

function ascii(b: Uint8Array, at: number, len: number): string {
  let s = '';
  for (let i = at; i < at + len; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/**
 * Turns a frame into readings: series `device/sensor`, ts = (baseTime, or the receive time when
 * the device has no clock) − age. `fallbackDevice` names frames that leave the device id empty.
 */
export function frameReadings(frame: Frame, receivedAt: number, fallbackDevice: string): Reading[] {
  const device = frame.device || fallbackDevice;
  const base = frame.baseTime ?? receivedAt;
  return frame.readings.map((r) => ({ series: `${device}/${r.sensor}`, ts: base - r.ageMs, value: r.value }));
}
