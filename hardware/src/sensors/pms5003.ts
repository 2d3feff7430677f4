/**
 * `pms5003` profile: Plantower PMS5003 particulate sensor, active mode (its default: a frame
 * every 200–2300 ms at 9600 baud). Frame (Plantower PMS5003 datasheet, "Appendix I"): 32 bytes,
 * `42 4D`, frame length 28 (u16 BE), thirteen u16 BE data words, checksum = u16 sum of the 30
 * bytes before it.
 *
 * Sensors: pm1.0, pm2.5, pm10 (µg/m³, "atmospheric environment" values, the ones comparable
 * with air-quality indices), and particle counts n0.3, n0.5, n1.0, n2.5, n5.0, n10 (particles
 * larger than that many µm per 0.1 L of air).
 */
import type { Reading } from '@fieldmesh/device-sdk';
import type { SensorParserOptions } from './parser.js';
import { SyncFrameParser } from './sync-frame.js';

export const PMS5003_FRAME_LENGTH = 32;
const NAMES: [number, string, string][] = [
  // Word 0 is the frame length; 1–3 are the "CF=1" factory-calibration values, not stored.
  [4, 'pm1.0', 'ug/m3'],
  [5, 'pm2.5', 'ug/m3'],
  [6, 'pm10', 'ug/m3'],
  [7, 'n0.3', '/dL'],
  [8, 'n0.5', '/dL'],
  [9, 'n1.0', '/dL'],
  [10, 'n2.5', '/dL'],
  [11, 'n5.0', '/dL'],
  [12, 'n10', '/dL'],
];

export function createPms5003Parser(opts: SensorParserOptions): SyncFrameParser {
  return new SyncFrameParser({
    header: [0x42, 0x4d],
    length: PMS5003_FRAME_LENGTH,
    headerLength: 4,
    headerOk: (b) => b[2] === 0x00 && b[3] === 0x1c,
    read(b, now) {
      let sum = 0;
      for (let i = 0; i < 30; i++) sum += b[i]!;
      if (sum !== ((b[30]! << 8) | b[31]!)) return { ok: false, reason: 'checksum' };
      const word = (k: number) => (b[2 + 2 * k]! << 8) | b[3 + 2 * k]!;
      const readings: Reading[] = NAMES.map(([k, sensor, unit]) => ({ series: `${opts.device}/${sensor}`, ts: now, value: word(k), unit }));
      return { ok: true, readings };
    },
  });
}

/** Builds a valid frame from the 13 data words (for tests and the demo's simulated sensor). */
export function pms5003Frame(words: readonly number[]): Uint8Array {
  const b = new Uint8Array(PMS5003_FRAME_LENGTH);
  b[0] = 0x42;
  b[1] = 0x4d;
  b[3] = 0x1c;
  for (let k = 0; k < 13; k++) {
    b[4 + 2 * k] = (words[k] ?? 0) >> 8;
    b[5 + 2 * k] = (words[k] ?? 0) & 0xff;
  }
  let sum = 0;
  for (let i = 0; i < 30; i++) sum += b[i]!;
  b[30] = sum >> 8;
  b[31] = sum & 0xff;
  return b;
}
