import { isDeviceId, SENSOR_NAME, type Reading, type ReadingValue } from '../reading.js';
import { SenmlError } from './errors.js';

/**
 * SenML JSON (RFC 8428) as fieldmesh devices speak it; the spec with test vectors is
 * device-sdk/SENML.md. Decoding is strict and total: anything that is not a pack we can store
 * whole throws a SenmlError, and nothing else (the ingest path counts the code and goes on).
 */

/** Why these limits: a pack is stored in one transaction and held in memory whole. */
export const SENML_LIMITS = {
  /** Records per pack: bounds one group commit's share and the decode work per message. */
  maxRecords: 1000,
  /** Characters of a `vs` string value: readings are measurements, not documents. */
  maxStringValue: 1024,
  /** Characters of a unit symbol (RFC 8428 §12.1 units are all under 16). */
  maxUnit: 32,
  /** Characters of bn + n before the device prefix is stripped. */
  maxName: 200,
  /** Bytes of a pack given to decodeSenml. */
  maxBytes: 256 * 1024,
} as const;

/** RFC 8428 §4.5.3: a resolved time below 2^28 s is relative to "now". */
const RELATIVE_TIME_LIMIT = 2 ** 28;
/** RFC 8428 §4.4: the version this codec implements; a higher bver may change meaning. */
const SENML_VERSION = 10;

export interface DecodeOptions {
  /** The authenticated device id; every series is written under it, whatever bn says. */
  device: string;
  /** Wall time in ms, for records with no time or a relative time. */
  now: number;
}

export interface DecodedPack {
  readings: Reading[];
  /** The fieldmesh extension `fm_seq` from the first record, when present. */
  deviceSeq?: number;
}

type Rec = Record<string, unknown>;

const KNOWN_FIELDS = new Set(['bn', 'bt', 'bu', 'bv', 'bs', 'bver', 'n', 'u', 'v', 'vs', 'vb', 'vd', 's', 't', 'ut', 'fm_seq']);

export function decodeSenml(input: string | Buffer, opts: DecodeOptions): DecodedPack {
  if (!isDeviceId(opts.device)) throw new SenmlError('FM_ERR_SENML_NAME', `device id ${JSON.stringify(opts.device)} is not valid`);
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > SENML_LIMITS.maxBytes) throw new SenmlError('FM_ERR_SENML_LIMIT', `pack of ${size} bytes exceeds ${SENML_LIMITS.maxBytes}`);
  let pack: unknown;
  try {
    pack = JSON.parse(typeof input === 'string' ? input : input.toString('utf8'));
  } catch {
    throw new SenmlError('FM_ERR_SENML_JSON', 'pack is not valid JSON');
  }
  if (!Array.isArray(pack)) throw new SenmlError('FM_ERR_SENML_JSON', 'pack is not a JSON array');
  if (pack.length === 0) throw new SenmlError('FM_ERR_SENML_JSON', 'pack is empty');
  if (pack.length > SENML_LIMITS.maxRecords) {
    throw new SenmlError('FM_ERR_SENML_LIMIT', `pack has ${pack.length} records, more than ${SENML_LIMITS.maxRecords}`);
  }

  const devicePrefix = `${opts.device}/`;
  let bn = '';
  let bt = 0;
  let bu: string | undefined;
  let bv = 0;
  let deviceSeq: number | undefined;
  const readings: Reading[] = [];

  for (let i = 0; i < pack.length; i++) {
    const r = pack[i] as unknown;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) {
      throw new SenmlError('FM_ERR_SENML_JSON', `record ${i} is not an object`);
    }
    const rec = r as Rec;
    for (const key of Object.keys(rec)) {
      // RFC 8428 §4.4: a field ending in "_" must be understood or the pack refused; other
      // unknown fields are ignored.
      if (key.endsWith('_') && !KNOWN_FIELDS.has(key)) {
        throw new SenmlError('FM_ERR_SENML_UNSUPPORTED', `record ${i}: must-understand field ${JSON.stringify(key).slice(0, 40)}`);
      }
    }
    if ('fm_seq' in rec) {
      const s = rec.fm_seq;
      if (i !== 0 || typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0) {
        throw new SenmlError('FM_ERR_SENML_SEQ', `record ${i}: fm_seq ${JSON.stringify(s)}`);
      }
      deviceSeq = s;
    }
    if ('bver' in rec) {
      const v = rec.bver;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new SenmlError('FM_ERR_SENML_UNSUPPORTED', `record ${i}: bver ${JSON.stringify(v)}`);
      if (v > SENML_VERSION) throw new SenmlError('FM_ERR_SENML_UNSUPPORTED', `record ${i}: bver ${v} is newer than ${SENML_VERSION}`);
    }
    // Base fields apply to this record and every later one until replaced (§4.1).
    if ('bn' in rec) bn = str(rec.bn, i, 'bn', SENML_LIMITS.maxName, 'FM_ERR_SENML_NAME');
    if ('bt' in rec) bt = num(rec.bt, i, 'bt', 'FM_ERR_SENML_TIME');
    if ('bu' in rec) bu = str(rec.bu, i, 'bu', SENML_LIMITS.maxUnit, 'FM_ERR_SENML_VALUE');
    if ('bv' in rec) bv = num(rec.bv, i, 'bv', 'FM_ERR_SENML_VALUE');
    if ('bs' in rec || 's' in rec) throw new SenmlError('FM_ERR_SENML_UNSUPPORTED', `record ${i}: sums (s, bs) are not stored`);
    if ('vd' in rec) throw new SenmlError('FM_ERR_SENML_UNSUPPORTED', `record ${i}: data values (vd) are not stored`);

    const hasV = 'v' in rec;
    const hasVs = 'vs' in rec;
    const hasVb = 'vb' in rec;
    const count = (hasV ? 1 : 0) + (hasVs ? 1 : 0) + (hasVb ? 1 : 0);
    if (count === 0) {
      // §4.6: a record with only base fields carries no reading. Allowed when it sets bases.
      if ('n' in rec || 't' in rec || 'u' in rec) throw new SenmlError('FM_ERR_SENML_VALUE', `record ${i} has no value`);
      continue;
    }
    if (count > 1) throw new SenmlError('FM_ERR_SENML_VALUE', `record ${i} has more than one value field`);

    let value: ReadingValue;
    if (hasV) {
      value = num(rec.v, i, 'v', 'FM_ERR_SENML_VALUE') + bv;
      if (!Number.isFinite(value)) throw new SenmlError('FM_ERR_SENML_VALUE', `record ${i}: v + bv is not finite`);
    } else if (hasVs) {
      value = str(rec.vs, i, 'vs', SENML_LIMITS.maxStringValue, 'FM_ERR_SENML_VALUE');
    } else {
      if (typeof rec.vb !== 'boolean') throw new SenmlError('FM_ERR_SENML_VALUE', `record ${i}: vb is not a boolean`);
      value = rec.vb;
    }

    const n = 'n' in rec ? str(rec.n, i, 'n', SENML_LIMITS.maxName, 'FM_ERR_SENML_NAME') : '';
    let name = bn + n;
    if (name.length > SENML_LIMITS.maxName) throw new SenmlError('FM_ERR_SENML_NAME', `record ${i}: name longer than ${SENML_LIMITS.maxName}`);
    // A device may name itself in bn; it can never name another device: whatever remains is a
    // sensor name under the authenticated device id.
    if (name.startsWith(devicePrefix)) name = name.slice(devicePrefix.length);
    if (!SENSOR_NAME.test(name)) throw new SenmlError('FM_ERR_SENML_NAME', `record ${i}: name ${JSON.stringify(name)} is not a valid sensor name`);

    const t = 't' in rec ? num(rec.t, i, 't', 'FM_ERR_SENML_TIME') : 0;
    const seconds = bt + t;
    const ms = Math.abs(seconds) < RELATIVE_TIME_LIMIT ? opts.now + seconds * 1000 : seconds * 1000;
    const ts = Math.round(ms);
    if (!Number.isSafeInteger(ts)) throw new SenmlError('FM_ERR_SENML_TIME', `record ${i}: time ${seconds} is out of range`);

    let unit = bu;
    if ('u' in rec) unit = str(rec.u, i, 'u', SENML_LIMITS.maxUnit, 'FM_ERR_SENML_VALUE');
    const reading: Reading = { series: `${opts.device}/${name}`, ts, value };
    if (unit !== undefined && unit !== '') reading.unit = unit;
    readings.push(reading);
  }
  if (readings.length === 0) throw new SenmlError('FM_ERR_SENML_VALUE', 'pack carries no reading');
  return deviceSeq === undefined ? { readings } : { readings, deviceSeq };
}

function num(x: unknown, i: number, field: string, code: 'FM_ERR_SENML_TIME' | 'FM_ERR_SENML_VALUE'): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new SenmlError(code, `record ${i}: ${field} is not a finite number`);
  return x;
}

function str(x: unknown, i: number, field: string, max: number, code: 'FM_ERR_SENML_NAME' | 'FM_ERR_SENML_VALUE'): string {
  if (typeof x !== 'string') throw new SenmlError(code, `record ${i}: ${field} is not a string`);
  if (x.length > max) throw new SenmlError('FM_ERR_SENML_LIMIT', `record ${i}: ${field} longer than ${max}`);
  return x;
}

export interface EncodeOptions {
  deviceSeq?: number;
}

/**
 * Encodes readings of ONE device as a compact pack: `bn` = `<device>/`, `bt` = the earliest
 * reading's time, then per record the sensor name, a relative `t` when it differs, the unit
 * only when it changes from `bu`. Times are whole milliseconds.
 */
export function encodeSenml(readings: readonly Reading[], opts: EncodeOptions = {}): string {
  if (readings.length === 0) throw new SenmlError('FM_ERR_SENML_VALUE', 'nothing to encode');
  if (readings.length > SENML_LIMITS.maxRecords) throw new SenmlError('FM_ERR_SENML_LIMIT', `${readings.length} readings exceed ${SENML_LIMITS.maxRecords} per pack`);
  const first = readings[0]!;
  const device = first.series.slice(0, first.series.indexOf('/'));
  // bt = the earliest time, so every t is >= 0 and bt + t never dips under 2^28 s by rounding.
  let bt = first.ts;
  for (const r of readings) if (r.ts < bt) bt = r.ts;
  // Decoding treats a resolved time under 2^28 s as relative (§4.5.3), so such ts cannot round-trip.
  if (!(bt >= RELATIVE_TIME_LIMIT * 1000)) throw new SenmlError('FM_ERR_SENML_TIME', `ts ${bt} is before 1978 and would decode as a relative time`);
  // `bu` only when every reading shares the unit; otherwise each record names its own.
  const bu = readings.every((r) => r.unit === first.unit) ? first.unit : undefined;
  const records: Rec[] = [];
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    if (!r.series.startsWith(`${device}/`)) throw new SenmlError('FM_ERR_SENML_NAME', `reading ${i}: series ${r.series} is not of device ${device}`);
    if (!Number.isSafeInteger(r.ts)) throw new SenmlError('FM_ERR_SENML_TIME', `reading ${i}: ts ${r.ts} is not whole milliseconds`);
    const rec: Rec = {};
    if (i === 0) {
      if (opts.deviceSeq !== undefined) rec.fm_seq = opts.deviceSeq;
      rec.bn = `${device}/`;
      rec.bt = bt / 1000;
      if (bu !== undefined) rec.bu = bu;
    }
    rec.n = r.series.slice(device.length + 1);
    if (r.unit !== bu && r.unit !== undefined) rec.u = r.unit;
    if (typeof r.value === 'number') {
      if (!Number.isFinite(r.value)) throw new SenmlError('FM_ERR_SENML_VALUE', `reading ${i}: value is not finite`);
      rec.v = r.value;
    } else if (typeof r.value === 'boolean') rec.vb = r.value;
    else rec.vs = r.value;
    if (r.ts < RELATIVE_TIME_LIMIT * 1000) throw new SenmlError('FM_ERR_SENML_TIME', `reading ${i}: ts ${r.ts} is before 1978`);
    if (r.ts !== bt) rec.t = (r.ts - bt) / 1000;
    records.push(rec);
  }
  return JSON.stringify(records);
}
