/**
 * Regenerates the vXX-*.json vectors: `npx tsx protocol/vectors/make-vectors.ts`.
 * Only run it when FORMAT.md changes, with a new version number: published vectors are frozen.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WireReading } from '../src/wire-reading.js';
import { BATCH_VERSION, encodeBatch } from '../src/batch-codec.js';
import { toVectorValue, type VectorFile } from './vector-file.js';

const here = dirname(fileURLToPath(import.meta.url));
const t0 = Date.UTC(2026, 0, 1);

const cases: Array<{ name: string; description: string; readings: WireReading[] }> = [
  {
    name: 'single',
    description: 'one integer reading with a unit; stored uncompressed because deflate would grow it',
    readings: [{ seq: 1, series: 'dev1/temp', ts: t0, value: 21, unit: 'Cel' }],
  },
  {
    name: 'mixed',
    description: 'two series interleaved, decimals with a scale change, a seq gap, bool, string, unit-less',
    readings: [
      { seq: 10, series: 'dev1/temp', ts: t0, value: 21.5, unit: 'Cel' },
      { seq: 11, series: 'dev2/door', ts: t0 + 7, value: true },
      { seq: 12, series: 'dev1/temp', ts: t0 + 1000, value: 21.55, unit: 'Cel' },
      { seq: 14, series: 'dev2/door', ts: t0 + 1500, value: false },
      { seq: 15, series: 'dev1/temp', ts: t0 + 2000, value: 21.6, unit: 'Cel' },
      { seq: 16, series: 'dev2/msg', ts: t0 + 2001, value: 'héllo ✓' },
      { seq: 17, series: 'dev1/temp', ts: t0 + 2999, value: -3, unit: 'Cel' },
    ],
  },
  {
    name: 'floats',
    description: 'values on the XOR float path: NaN, ±Infinity, -0, a tiny subnormal, a huge value, 1/3',
    readings: [NaN, Infinity, -Infinity, -0, 5e-324, 1.7976931348623157e308, 1 / 3, 1 / 3].map((value, i) => ({
      seq: 100 + i,
      series: 'dev3/x',
      ts: t0 + i * 1000,
      value,
    })),
  },
  {
    name: 'slow-1hz',
    description: 'three series at 1 Hz, slowly changing, 600 readings: the compression case',
    readings: Array.from({ length: 600 }, (_, i) => {
      const s = i % 3;
      const k = Math.floor(i / 3);
      return {
        seq: 1000 + i,
        series: ['site/temp', 'site/hum', 'site/press'][s]!,
        ts: t0 + k * 1000 + s * 3,
        value: [20 + Math.round(10 * Math.sin(k / 50)) / 10, 45 + (k % 7 === 0 ? 1 : 0), 1013.2][s]!,
        unit: ['Cel', '%RH', 'hPa'][s]!,
      };
    }),
  },
];

for (const c of cases) {
  const file: VectorFile = {
    description: c.description,
    formatVersion: BATCH_VERSION,
    gatewayId: 'gw-vec',
    epoch: '0123456789abcdef',
    readings: c.readings.map((r) => ({ ...r, value: toVectorValue(r.value) })),
    hex: encodeBatch({ gatewayId: 'gw-vec', epoch: '0123456789abcdef', readings: c.readings }).toString('hex'),
  };
  // One reading per line: readable diffs without a 60 kB indented file.
  const { readings, ...head } = file;
  const lines = readings.map((r) => '  ' + JSON.stringify(r)).join(',\n');
  const text = JSON.stringify(head, null, 1).replace(/\n}$/, `,\n "readings": [\n${lines}\n ]\n}`);
  writeFileSync(join(here, `v${BATCH_VERSION}-${c.name}.json`), text + '\n');
}
