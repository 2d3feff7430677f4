/**
 * `nmea0183` profile: GPS sentences (NMEA 0183 v4.10). Reads GGA, RMC, VTG and GSA from the
 * talkers GP (GPS), GN (multi-GNSS), GL (GLONASS), GA (Galileo) and BD (BeiDou); other valid
 * sentences (GSV, GLL, TXT…) and talkers are `ignored`, not rejected. The `*hh` checksum (XOR of
 * every byte between `$` and `*`) is required: without it a noisy line could move the position.
 *
 * Sensors: lat, lon (decimal degrees, + north/east), alt (m above mean sea level), speed (m/s),
 * course (degrees true), fix (GGA quality 0–8), satellites, hdop, fix_type (GSA 1 none, 2 2-D,
 * 3 3-D), pdop, vdop. Fields a receiver leaves empty (no fix yet) produce no reading.
 */
import type { Reading, ReadingValue } from '@fieldmesh/device-sdk';
import { asciiString, isPrintableAscii, LineProtocolParser } from './line-splitter.js';
import type { SensorParserOptions } from './parser.js';

/** NMEA 0183 §5.3 caps a sentence at 82 characters with CRLF; some receivers overrun it a bit. */
export const NMEA_MAX_LENGTH = 120;
export const NMEA_TALKERS = ['GP', 'GN', 'GL', 'GA', 'BD'] as const;
const KNOTS_TO_MS = 1852 / 3600;

type Out = { sensor: string; value: ReadingValue; unit?: string }[];
/** Returns the readings, [] for a valid sentence without them, or undefined when malformed. */
type SentenceReader = (f: string[]) => Out | undefined;

const num = (s: string | undefined): number | undefined => {
  if (s === undefined || s === '') return undefined;
  if (!/^-?\d+(\.\d+)?$/.test(s)) return Number.NaN;
  return Number(s);
};

/** `ddmm.mmmm` / `dddmm.mmmm` with hemisphere → decimal degrees; NaN when malformed. */
function coordinate(v: string | undefined, hemi: string | undefined, degDigits: 2 | 3): number | undefined {
  if (!v && !hemi) return undefined;
  if (!v || !hemi || !/^\d+(\.\d+)?$/.test(v)) return Number.NaN;
  const dot = v.indexOf('.') < 0 ? v.length : v.indexOf('.');
  if (dot !== degDigits + 2) return Number.NaN;
  const deg = Number(v.slice(0, degDigits));
  const min = Number(v.slice(degDigits));
  const max = degDigits === 2 ? 90 : 180;
  if (min >= 60 || deg + min / 60 > max) return Number.NaN;
  const sign = degDigits === 2 ? ({ N: 1, S: -1 } as Record<string, number>)[hemi] : ({ E: 1, W: -1 } as Record<string, number>)[hemi];
  if (sign === undefined) return Number.NaN;
  return Math.round(sign * (deg + min / 60) * 1e7) / 1e7;
}

function collect(pairs: [string, number | undefined, string?][]): Out | undefined {
  const out: Out = [];
  for (const [sensor, value, unit] of pairs) {
    if (value === undefined) continue;
    if (!Number.isFinite(value)) return undefined;
    out.push(unit ? { sensor, value, unit } : { sensor, value });
  }
  return out;
}

const READERS: Record<string, SentenceReader> = {
  // GGA: time, lat, N/S, lon, E/W, quality, satellites, HDOP, altitude, M, geoid sep., M, age, station
  GGA: (f) => {
    if (f.length < 14) return undefined;
    const fix = num(f[6]);
    if (fix !== undefined && !(Number.isInteger(fix) && fix >= 0 && fix <= 8)) return undefined;
    const hasFix = fix !== undefined && fix > 0;
    return collect([
      ['fix', fix],
      ['satellites', num(f[7])],
      ['hdop', num(f[8])],
      ['lat', hasFix ? coordinate(f[2], f[3], 2) : undefined, 'lat'],
      ['lon', hasFix ? coordinate(f[4], f[5], 3) : undefined, 'lon'],
      ['alt', hasFix ? num(f[9]) : undefined, 'm'],
    ]);
  },
  // RMC: time, status A/V, lat, N/S, lon, E/W, speed kn, course °T, date, magvar, E/W[, mode[, nav status]]
  RMC: (f) => {
    if (f.length < 12 || (f[2] !== 'A' && f[2] !== 'V')) return undefined;
    if (f[2] === 'V') return [];
    const knots = num(f[7]);
    return collect([
      ['lat', coordinate(f[3], f[4], 2), 'lat'],
      ['lon', coordinate(f[5], f[6], 3), 'lon'],
      ['speed', knots === undefined ? undefined : Math.round(knots * KNOTS_TO_MS * 1000) / 1000, 'm/s'],
      ['course', num(f[8]), 'deg'],
    ]);
  },
  // VTG: course °T, T, course °M, M, speed kn, N, speed km/h, K[, mode]
  VTG: (f) => {
    if (f.length < 9) return undefined;
    if (f[9] === 'N') return [];
    const kmh = num(f[7]);
    return collect([
      ['course', num(f[1]), 'deg'],
      ['speed', kmh === undefined ? undefined : Math.round((kmh / 3.6) * 1000) / 1000, 'm/s'],
    ]);
  },
  // GSA: mode A/M, fix type 1–3, 12 satellite ids, PDOP, HDOP, VDOP[, system id]
  GSA: (f) => {
    if (f.length < 18) return undefined;
    const type = num(f[2]);
    if (type !== undefined && !(type === 1 || type === 2 || type === 3)) return undefined;
    return collect([
      ['fix_type', type],
      ['pdop', num(f[15])],
      ['hdop', num(f[16])],
      ['vdop', num(f[17])],
    ]);
  },
};

export class Nmea0183Parser extends LineProtocolParser {
  constructor(opts: SensorParserOptions) {
    super(opts, NMEA_MAX_LENGTH);
  }

  protected parseLine(bytes: Uint8Array, now: number, out: Reading[]): void {
    const size = bytes.length + 1;
    if (!isPrintableAscii(bytes)) return this.c.reject('noise', size);
    const line = asciiString(bytes).trim();
    const star = line.lastIndexOf('*');
    if (line[0] !== '$' || star < 0 || star !== line.length - 3 || !/^[0-9A-Fa-f]{2}$/.test(line.slice(star + 1))) {
      return this.c.reject('noise', size);
    }
    let sum = 0;
    for (let i = 1; i < star; i++) sum ^= line.charCodeAt(i);
    if (sum !== parseInt(line.slice(star + 1), 16)) return this.c.reject('checksum', size);
    const fields = line.slice(1, star).split(',');
    const address = fields[0]!;
    if (!/^[A-Z][A-Z0-9]{4,5}$/.test(address)) return this.c.reject('malformed', size);
    const read = READERS[address.slice(2)];
    if (!read || !(NMEA_TALKERS as readonly string[]).includes(address.slice(0, 2))) return this.c.ignore();
    const values = read(fields);
    if (!values) return this.c.reject('malformed', size);
    for (const r of values) {
      const reading: Reading = { series: `${this.opts.device}/${r.sensor}`, ts: now, value: r.value };
      if (r.unit) reading.unit = r.unit;
      out.push(reading);
    }
    this.c.accept(values.length);
  }
}

/** Appends the `*hh` checksum and CRLF to a sentence body (`GPGGA,…`), for tests and simulators. */
export function nmeaSentence(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return `$${body}*${sum.toString(16).toUpperCase().padStart(2, '0')}\r\n`;
}
