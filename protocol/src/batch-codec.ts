import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { WireReading } from './wire-reading.js';
import { ByteReader, ByteWriter } from './byte-stream.js';
import { ProtocolError } from './errors.js';
import { EPOCH_RULE, isEpoch } from './identifiers.js';

/**
 * The uplink batch: many WireReadings of one gateway in a compact, checksummed binary frame.
 * The byte layout is specified in FORMAT.md next to this file; keep the two in step and add a
 * vector under vectors/ for every change.
 */
export interface Batch {
  gatewayId: string;
  epoch: string;
  firstSeq: number;
  lastSeq: number;
  readings: WireReading[];
}

export const BATCH_MAGIC = Buffer.from('FMB', 'ascii');
export const BATCH_VERSION = 1;

/** Limits a decoder enforces before allocating (FORMAT.md §5). */
export const BATCH_LIMITS = {
  /** Readings in one batch. The uplink sends far fewer (a few thousand); this bounds decode work. */
  maxReadings: 100_000,
  /** Inflated body bytes: a zip bomb stops here. About 160 B per reading at the reading limit. */
  maxBodyBytes: 16 * 1024 * 1024,
  /** Gateway ids and epochs are short tokens. */
  maxIdBytes: 64,
  /** Series names: device id (64) + '/' + sensor (128), rounded up. */
  maxSeriesBytes: 256,
  maxUnitBytes: 64,
  /** A string value; larger payloads belong in a blob store, not a reading. */
  maxStringBytes: 65_536,
} as const;

/** Timestamps must be integers with |ts| < 2^48 ms (about ±8900 years), so delta-of-delta fits 2^50. */
const TS_LIMIT = 2 ** 48;
/** Largest |ts| (ms) a batch carries (exclusive): ingest refuses later or earlier times up front. */
export const MAX_WIRE_TS_MS = TS_LIMIT;
/** Largest scaled decimal: deltas of two stay below 2^51, zigzag below 2^52, inside 2^53. */
const SCALED_LIMIT = 2 ** 50;
const MAX_SCALE = 9;
const POW10 = Array.from({ length: MAX_SCALE + 1 }, (_, i) => 10 ** i);

const TAG_FLOAT = 10;
const TAG_FALSE = 11;
const TAG_TRUE = 12;
const TAG_STRING = 13;

const FLAG_DEFLATE = 1;
/** The frame ends in an origin signature (batch-signature.ts, FORMAT.md §3.1). */
export const FLAG_SIGNED = 2;
/** Ed25519 signature bytes (RFC 8032 §5.1.6). */
export const SIGNATURE_BYTES = 64;

/** Signs the bytes a batch signature covers (batch-signature.ts: signatureMessage). */
export type BatchSign = (framed: Buffer) => Buffer;

interface SeriesState {
  prevTs: number;
  prevDelta: number;
  prevScale: number;
  prevScaled: number;
  prevHi: number;
  prevLo: number;
}

const f64 = new DataView(new ArrayBuffer(8));

/** The smallest decimal scale at which `v` is an exact integer, preferring the series' last one. */
function decimalScale(v: number, preferred: number): number {
  if (!Number.isFinite(v) || Object.is(v, -0)) return -1;
  if (preferred >= 0 && exactAt(v, preferred)) return preferred;
  for (let d = 0; d <= MAX_SCALE; d++) if (exactAt(v, d)) return d;
  return -1;
}

function exactAt(v: number, d: number): boolean {
  const s = v * POW10[d]!;
  return Number.isInteger(s) && Math.abs(s) <= SCALED_LIMIT && s / POW10[d]! === v;
}

function unencodable(why: string): never {
  throw new ProtocolError('FM_ERR_BATCH_UNENCODABLE', why);
}

export function encodeBatch(input: { gatewayId: string; epoch: string; readings: readonly WireReading[] }, sign?: BatchSign): Buffer {
  const { readings } = input;
  const n = readings.length;
  if (n === 0) unencodable('a batch needs at least one reading');
  if (n > BATCH_LIMITS.maxReadings) unencodable(`${n} readings, limit ${BATCH_LIMITS.maxReadings}`);
  const seriesIndex = new Map<string, number>();
  const unitIndex = new Map<string, number>();
  const states: SeriesState[] = [];
  const cSeries = new ByteWriter(n * 2);
  const cUnit = new ByteWriter(n);
  const cSeq = new ByteWriter(n);
  const cTime = new ByteWriter(n * 2);
  const cTag = new ByteWriter(n);
  const cInt = new ByteWriter(n * 2);
  const cFloat = new ByteWriter(64);
  const cString = new ByteWriter(64);

  const first = readings[0]!;
  const base = first.ts;
  if (!Number.isInteger(base) || Math.abs(base) >= TS_LIMIT) unencodable(`timestamp ${base} of seq ${first.seq}`);
  cTime.svarint(base);
  let prevSeq = -1;
  for (const r of readings) {
    if (!Number.isSafeInteger(r.seq) || r.seq < 1) unencodable(`seq ${r.seq}`);
    if (prevSeq >= 0 && r.seq <= prevSeq) unencodable(`seq ${r.seq} after ${prevSeq}`);
    if (prevSeq >= 0) cSeq.uvarint(r.seq - prevSeq - 1);
    prevSeq = r.seq;

    let si = seriesIndex.get(r.series);
    if (si === undefined) {
      if (typeof r.series !== 'string' || Buffer.byteLength(r.series) > BATCH_LIMITS.maxSeriesBytes) unencodable(`series name of seq ${r.seq}`);
      si = seriesIndex.size;
      seriesIndex.set(r.series, si);
      states.push({ prevTs: base, prevDelta: 0, prevScale: -1, prevScaled: 0, prevHi: 0, prevLo: 0 });
    }
    cSeries.uvarint(si);
    const st = states[si]!;

    if (r.unit === undefined) cUnit.uvarint(0);
    else {
      let ui = unitIndex.get(r.unit);
      if (ui === undefined) {
        if (typeof r.unit !== 'string' || Buffer.byteLength(r.unit) > BATCH_LIMITS.maxUnitBytes) unencodable(`unit of seq ${r.seq}`);
        ui = unitIndex.size + 1;
        unitIndex.set(r.unit, ui);
      }
      cUnit.uvarint(ui);
    }

    const ts = r.ts;
    if (!Number.isInteger(ts) || Math.abs(ts) >= TS_LIMIT) unencodable(`timestamp ${ts} of seq ${r.seq}`);
    const delta = ts - st.prevTs;
    cTime.svarint(delta - st.prevDelta);
    st.prevDelta = delta;
    st.prevTs = ts;

    const v = r.value;
    if (typeof v === 'number') {
      const d = decimalScale(v, st.prevScale);
      if (d >= 0) {
        const s = v * POW10[d]!;
        cTag.u8(d);
        cInt.svarint(d === st.prevScale ? s - st.prevScaled : s);
        st.prevScale = d;
        st.prevScaled = s;
      } else {
        // Gorilla (VLDB 2015 §4.1.2) XORs with the previous value; the zero bytes it leaves are
        // then squeezed by deflate instead of by bit-packing, which keeps the codec byte-aligned.
        f64.setFloat64(0, v);
        const hi = f64.getUint32(0);
        const lo = f64.getUint32(4);
        cTag.u8(TAG_FLOAT);
        cFloat.u32(hi ^ st.prevHi).u32(lo ^ st.prevLo);
        st.prevHi = hi;
        st.prevLo = lo;
      }
    } else if (typeof v === 'boolean') {
      cTag.u8(v ? TAG_TRUE : TAG_FALSE);
    } else if (typeof v === 'string') {
      if (Buffer.byteLength(v) > BATCH_LIMITS.maxStringBytes) unencodable(`string value of seq ${r.seq} over ${BATCH_LIMITS.maxStringBytes} bytes`);
      cTag.u8(TAG_STRING);
      cString.text(v);
    } else {
      unencodable(`value of type ${typeof v} at seq ${r.seq}`);
    }
  }

  const body = new ByteWriter(n * 4 + 256);
  body.uvarint(seriesIndex.size);
  for (const name of seriesIndex.keys()) body.text(name);
  body.uvarint(unitIndex.size);
  for (const unit of unitIndex.keys()) body.text(unit);
  for (const col of [cSeries, cUnit, cSeq, cTime, cTag, cInt, cFloat, cString]) {
    body.uvarint(col.length);
    body.bytes(col.finish());
  }
  const raw = body.finish();
  if (raw.length > BATCH_LIMITS.maxBodyBytes) unencodable(`body of ${raw.length} bytes over ${BATCH_LIMITS.maxBodyBytes}`);
  const deflated = deflateRawSync(raw);
  const compress = deflated.length < raw.length;

  if (Buffer.byteLength(input.gatewayId) > BATCH_LIMITS.maxIdBytes) unencodable('gateway id too long');
  if (Buffer.byteLength(input.epoch) > BATCH_LIMITS.maxIdBytes) unencodable('epoch too long');
  // Room for the header, the signature and the CRC: the batch is written in one buffer, and the
  // signer gets a view of the frame, not a copy (FORMAT.md §3.1: signature, then CRC-32).
  const out = new ByteWriter(deflated.length + 2 * BATCH_LIMITS.maxIdBytes + 48 + SIGNATURE_BYTES + 4);
  out.bytes(BATCH_MAGIC);
  out.u8(BATCH_VERSION);
  out.u8((compress ? FLAG_DEFLATE : 0) | (sign ? FLAG_SIGNED : 0));
  out.text(input.gatewayId);
  out.text(input.epoch);
  out.uvarint(first.seq);
  out.uvarint(prevSeq);
  out.uvarint(n);
  out.uvarint(raw.length);
  out.bytes(compress ? deflated : raw);
  if (sign) {
    const signature = sign(out.finish());
    if (signature.length !== SIGNATURE_BYTES) unencodable(`signature of ${signature.length} bytes, not ${SIGNATURE_BYTES}`);
    out.bytes(signature);
  }
  out.u32(crc32(out.finish()) >>> 0);
  return out.finish();
}

function malformed(why: string): never {
  throw new ProtocolError('FM_ERR_BATCH_MALFORMED', why);
}

export interface BatchHeader {
  gatewayId: string;
  epoch: string;
  firstSeq: number;
  lastSeq: number;
  count: number;
}

/**
 * Checks magic, version and checksum and reads the header, without inflating the body. The cloud
 * uses it to name a batch in a nack even when the body is bad.
 */
export function decodeBatchHeader(bytes: Uint8Array): BatchHeader & { flags: number; rawLength: number; bodyStart: number } {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4 + BATCH_MAGIC.length + 2) throw new ProtocolError('FM_ERR_BATCH_TRUNCATED', `batch of ${buf.length} bytes`);
  if (!buf.subarray(0, 3).equals(BATCH_MAGIC)) throw new ProtocolError('FM_ERR_BATCH_MAGIC', 'payload does not start with "FMB"');
  if (buf[3] !== BATCH_VERSION) throw new ProtocolError('FM_ERR_BATCH_VERSION', `format version ${buf[3]}, this build reads ${BATCH_VERSION}`);
  const framed = buf.subarray(0, buf.length - 4);
  if ((crc32(framed) >>> 0) !== buf.readUInt32BE(buf.length - 4)) throw new ProtocolError('FM_ERR_BATCH_CHECKSUM', 'CRC-32 mismatch');
  const r = new ByteReader(framed, 'batch header');
  r.pos = 4;
  const flags = r.u8();
  if ((flags & ~(FLAG_DEFLATE | FLAG_SIGNED)) !== 0) malformed(`unknown flags 0x${flags.toString(16)}`);
  if (flags & FLAG_SIGNED && buf.length < 4 + 6 + SIGNATURE_BYTES) throw new ProtocolError('FM_ERR_BATCH_TRUNCATED', `signed batch of ${buf.length} bytes`);
  const gatewayId = r.text(BATCH_LIMITS.maxIdBytes);
  const epoch = r.text(BATCH_LIMITS.maxIdBytes);
  if (!isEpoch(epoch)) malformed(`epoch ${JSON.stringify(epoch)} is not ${EPOCH_RULE}`);
  const firstSeq = r.uvarint();
  const lastSeq = r.uvarint();
  const count = r.uvarint();
  const rawLength = r.uvarint();
  if (firstSeq < 1 || lastSeq < firstSeq) malformed(`seq range ${firstSeq}..${lastSeq}`);
  if (count < 1 || count > lastSeq - firstSeq + 1) malformed(`${count} readings in seq range ${firstSeq}..${lastSeq}`);
  if (count > BATCH_LIMITS.maxReadings) throw new ProtocolError('FM_ERR_BATCH_TOO_LARGE', `${count} readings, limit ${BATCH_LIMITS.maxReadings}`);
  if (rawLength > BATCH_LIMITS.maxBodyBytes) throw new ProtocolError('FM_ERR_BATCH_TOO_LARGE', `body of ${rawLength} bytes, limit ${BATCH_LIMITS.maxBodyBytes}`);
  return { gatewayId, epoch, firstSeq, lastSeq, count, flags, rawLength, bodyStart: r.pos };
}

/** Decodes a batch; any defect throws a ProtocolError with an FM_ERR_BATCH_* code. */
export function decodeBatch(bytes: Uint8Array): Batch {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = decodeBatchHeader(buf);
  const stored = buf.subarray(h.bodyStart, buf.length - 4 - (h.flags & FLAG_SIGNED ? SIGNATURE_BYTES : 0));
  let raw: Buffer;
  if (h.flags & FLAG_DEFLATE) {
    try {
      raw = inflateRawSync(stored, { maxOutputLength: Math.max(1, h.rawLength) });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') throw new ProtocolError('FM_ERR_BATCH_TOO_LARGE', `body inflates past the announced ${h.rawLength} bytes`);
      malformed(`deflate stream: ${(err as Error).message}`);
    }
  } else raw = stored;
  if (raw.length !== h.rawLength) malformed(`body is ${raw.length} bytes, header says ${h.rawLength}`);

  const body = new ByteReader(raw, 'batch body');
  const nSeries = body.uvarint();
  if (nSeries < 1 || nSeries > h.count) malformed(`${nSeries} series for ${h.count} readings`);
  const series: string[] = [];
  for (let i = 0; i < nSeries; i++) series.push(body.text(BATCH_LIMITS.maxSeriesBytes));
  const nUnits = body.uvarint();
  if (nUnits > h.count) malformed(`${nUnits} units for ${h.count} readings`);
  const units: string[] = [];
  for (let i = 0; i < nUnits; i++) units.push(body.text(BATCH_LIMITS.maxUnitBytes));
  const column = (name: string) => new ByteReader(body.bytes(body.uvarint()), `${name} column`);
  const cSeries = column('series');
  const cUnit = column('unit');
  const cSeq = column('seq');
  const cTime = column('time');
  const cTag = column('tag');
  const cInt = column('int');
  const cFloat = column('float');
  const cString = column('string');
  if (body.remaining !== 0) malformed(`${body.remaining} bytes after the last column`);

  const states: SeriesState[] = [];
  const base = cTime.svarint();
  if (Math.abs(base) >= TS_LIMIT) malformed(`base timestamp ${base}`);
  for (let i = 0; i < nSeries; i++) states.push({ prevTs: base, prevDelta: 0, prevScale: -1, prevScaled: 0, prevHi: 0, prevLo: 0 });
  const readings: WireReading[] = new Array(h.count);
  let seq = h.firstSeq;
  for (let i = 0; i < h.count; i++) {
    if (i > 0) {
      seq += cSeq.uvarint() + 1;
      if (seq > h.lastSeq) malformed(`seq ${seq} past lastSeq ${h.lastSeq}`);
    }
    const si = cSeries.uvarint();
    if (si >= nSeries) malformed(`series index ${si} of ${nSeries}`);
    const st = states[si]!;
    const ui = cUnit.uvarint();
    if (ui > nUnits) malformed(`unit index ${ui} of ${nUnits}`);
    const delta = st.prevDelta + cTime.svarint();
    const ts = st.prevTs + delta;
    if (Math.abs(delta) >= 2 * TS_LIMIT || Math.abs(ts) >= TS_LIMIT) malformed(`timestamp out of range at seq ${seq}`);
    st.prevDelta = delta;
    st.prevTs = ts;
    const tag = cTag.u8();
    let value: number | boolean | string;
    if (tag <= MAX_SCALE) {
      const d = cInt.svarint();
      const s = tag === st.prevScale ? st.prevScaled + d : d;
      if (Math.abs(s) > SCALED_LIMIT) malformed(`scaled value out of range at seq ${seq}`);
      st.prevScale = tag;
      st.prevScaled = s;
      value = s / POW10[tag]!;
    } else if (tag === TAG_FLOAT) {
      const hi = (cFloat.u32() ^ st.prevHi) >>> 0;
      const lo = (cFloat.u32() ^ st.prevLo) >>> 0;
      st.prevHi = hi;
      st.prevLo = lo;
      f64.setUint32(0, hi);
      f64.setUint32(4, lo);
      value = f64.getFloat64(0);
    } else if (tag === TAG_FALSE) value = false;
    else if (tag === TAG_TRUE) value = true;
    else if (tag === TAG_STRING) value = cString.text(BATCH_LIMITS.maxStringBytes);
    else malformed(`value tag ${tag} at seq ${seq}`);
    const reading: WireReading = { seq, series: series[si]!, ts, value };
    if (ui > 0) reading.unit = units[ui - 1]!;
    readings[i] = reading;
  }
  if (seq !== h.lastSeq) malformed(`last reading has seq ${seq}, header says ${h.lastSeq}`);
  for (const [name, c] of [['series', cSeries], ['unit', cUnit], ['seq', cSeq], ['time', cTime], ['tag', cTag], ['int', cInt], ['float', cFloat], ['string', cString]] as const) {
    if (c.remaining !== 0) malformed(`${c.remaining} unread bytes in the ${name} column`);
  }
  return { gatewayId: h.gatewayId, epoch: h.epoch, firstSeq: h.firstSeq, lastSeq: h.lastSeq, readings };
}
