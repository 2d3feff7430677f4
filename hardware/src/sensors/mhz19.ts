/**
 * `mhz19` profile: Winsen MH-Z19B/C NDIR CO₂ sensor, UART 9600 8N1. It answers only when asked:
 * the gateway writes the read command `FF 01 86 00 00 00 00 00 79` every `intervalMs`, and the
 * sensor replies `FF 86 HH LL TT SS UU UU CS` (datasheet §"Read CO2 concentration"):
 * CO₂ = HH·256 + LL ppm; TT − 40 is the sensor's internal temperature in °C (undocumented but
 * stable across B and C revisions); checksum CS = (~(sum of bytes 1–7) + 1) & 0xFF.
 */
import type { SensorParserOptions } from './parser.js';
import { SyncFrameParser } from './sync-frame.js';

export const MHZ19_READ_COMMAND = Uint8Array.from([0xff, 0x01, 0x86, 0x00, 0x00, 0x00, 0x00, 0x00, 0x79]);
/** The sensor refreshes its value about every 5 s (datasheet "response time"); asking faster reads the same value. */
export const MHZ19_POLL_INTERVAL_MS = 5000;

export function mhz19Checksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 1; i < 8; i++) sum += b[i]!;
  return (~sum + 1) & 0xff;
}

export function createMhz19Parser(opts: SensorParserOptions & { pollIntervalMs?: number }): SyncFrameParser {
  return new SyncFrameParser({
    header: [0xff, 0x86],
    poll: { bytes: MHZ19_READ_COMMAND, intervalMs: opts.pollIntervalMs ?? MHZ19_POLL_INTERVAL_MS },
    length: 9,
    read(b, now) {
      if (mhz19Checksum(b) !== b[8]) return { ok: false, reason: 'checksum' };
      return {
        ok: true,
        readings: [
          { series: `${opts.device}/co2`, ts: now, value: (b[2]! << 8) | b[3]!, unit: 'ppm' },
          { series: `${opts.device}/temp`, ts: now, value: b[4]! - 40, unit: 'Cel' },
        ],
      };
    },
  });
}

/** A valid reply for `ppm` and `tempC` (for tests and simulators). */
export function mhz19Reply(ppm: number, tempC: number): Uint8Array {
  const b = Uint8Array.from([0xff, 0x86, (ppm >> 8) & 0xff, ppm & 0xff, (tempC + 40) & 0xff, 0, 0, 0, 0]);
  b[8] = mhz19Checksum(b);
  return b;
}
