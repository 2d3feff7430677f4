import type { Reading } from '@fieldmesh/device-sdk';
import type { SensorParser } from '#hardware/sensors/index';

export const NOW = Date.UTC(2026, 5, 1, 12);

/** Feeds `stream` cut at `cuts` (any order, out-of-range ignored); returns every reading. */
export function feedCut(parser: SensorParser, stream: Uint8Array, cuts: readonly number[] = []): Reading[] {
  const out: Reading[] = [];
  let at = 0;
  for (const c of [...cuts.filter((c) => c > 0 && c < stream.length)].sort((a, b) => a - b).concat(stream.length)) {
    if (c < at) continue;
    out.push(...parser.feed(stream.subarray(at, c), NOW).readings);
    at = c;
  }
  return out;
}

export const bytes = (...parts: (string | Uint8Array | number[])[]): Uint8Array =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p as Uint8Array))));
