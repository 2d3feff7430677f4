/**
 * Simulated sensors for the demo and tests: each produces what the real device would put on its
 * serial line (bytes, not readings), with slowly varying plausible values, so that the whole
 * serial path — pty, serialport, parser, ingest — runs as with real hardware. Deterministic in
 * `now`; no I/O here (the demo writes the bytes to a pseudo-terminal).
 */
import { encodeFrame } from '@fieldmesh/device-sdk/frame';
import { MHZ19_READ_COMMAND, mhz19Reply } from './mhz19.js';
import { nmeaSentence } from './nmea0183.js';
import { pms5003Frame } from './pms5003.js';
import type { SensorProfileName } from './profiles.js';

export interface SimulatedSensor {
  /** How often the sensor speaks on its own, ms (0: only when polled). */
  intervalMs: number;
  /** What it sends on its own at `now` (ms since the epoch). */
  tick(now: number): Uint8Array;
  /** Its reply to bytes the gateway wrote (polled sensors), if any. */
  answer?(written: Uint8Array, now: number): Uint8Array | undefined;
}

const wave = (now: number, periodMs: number, phase = 0) => Math.sin((2 * Math.PI * now) / periodMs + phase);
const text = (s: string) => new TextEncoder().encode(s);

function nmeaCoord(deg: number, lonDigits: 2 | 3): string {
  const a = Math.abs(deg);
  const d = Math.floor(a);
  const m = (a - d) * 60;
  return `${String(d).padStart(lonDigits, '0')}${m.toFixed(4).padStart(7, '0')}`;
}

export function simulateSensor(profile: SensorProfileName, seed = 0): SimulatedSensor {
  switch (profile) {
    case 'line':
      return { intervalMs: 1000, tick: (now) => text(`t=${(21 + 3 * wave(now, 3_600_000, seed)).toFixed(2)} h=${(45 + 10 * wave(now, 7_200_000, seed)).toFixed(1)}\n`) };
    case 'senml-line':
      return { intervalMs: 1000, tick: (now) => text(`${JSON.stringify([{ n: 't', u: 'Cel', v: Number((21 + 3 * wave(now, 3_600_000, seed)).toFixed(2)) }, { n: 'h', u: '%RH', v: Number((45 + 10 * wave(now, 7_200_000, seed)).toFixed(1)) }])}\n`) };
    case 'fm-frame': {
      let seq = 0;
      return {
        intervalMs: 1000,
        tick: (now) =>
          encodeFrame({
            seq: seq++ & 0xffff,
            readings: [
              { sensor: 't', value: 21 + 3 * wave(now, 3_600_000, seed), type: 'i16', exp: -2 },
              { sensor: 'h', value: 45 + 10 * wave(now, 7_200_000, seed), type: 'i16', exp: -1 },
              { sensor: 'vbat', value: 3.7 + 0.2 * wave(now, 86_400_000, seed), type: 'i16', exp: -3 },
            ],
          }),
      };
    }
    case 'nmea0183':
      return {
        intervalMs: 1000,
        tick: (now) => {
          // A walk around a 200 m circle near Munich (the classic NMEA example's position).
          const lat = 48.1173 + 0.0018 * wave(now, 600_000, seed);
          const lon = 11.5167 + 0.0027 * wave(now, 600_000, seed + Math.PI / 2);
          const d = new Date(now);
          const hms = `${String(d.getUTCHours()).padStart(2, '0')}${String(d.getUTCMinutes()).padStart(2, '0')}${String(d.getUTCSeconds()).padStart(2, '0')}.00`;
          const dmy = `${String(d.getUTCDate()).padStart(2, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCFullYear() % 100).padStart(2, '0')}`;
          const pos = `${nmeaCoord(lat, 2)},N,${nmeaCoord(lon, 3)},E`;
          return text(
            nmeaSentence(`GNGGA,${hms},${pos},1,09,0.9,${(520 + 5 * wave(now, 900_000)).toFixed(1)},M,46.9,M,,`) +
              nmeaSentence(`GNRMC,${hms},A,${pos},2.5,${((now / 1667) % 360).toFixed(1)},${dmy},,,A`) +
              nmeaSentence('GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00'),
          );
        },
      };
    case 'pms5003':
      return {
        intervalMs: 1000,
        tick: (now) => {
          const pm25 = Math.round(12 + 8 * wave(now, 1_800_000, seed));
          // CF=1 values, atmospheric values, then particle counts per 0.1 L (>0.3 … >10 µm), reserved.
          return pms5003Frame([pm25 - 3, pm25, pm25 + 5, pm25 - 3, pm25, pm25 + 5, pm25 * 150, pm25 * 45, pm25 * 8, pm25, 2, 1, 0]);
        },
      };
    case 'mhz19':
      return {
        intervalMs: 0,
        tick: () => new Uint8Array(0),
        answer: (written, now) => {
          const w = Buffer.from(written);
          if (!w.equals(Buffer.from(MHZ19_READ_COMMAND))) return undefined;
          return mhz19Reply(Math.round(650 + 250 * wave(now, 3_600_000, seed)), 24);
        },
      };
  }
}
