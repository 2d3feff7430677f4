/**
 * One register layout the real-server tests share: every type in every word order, with the raw
 * words written out by hand (computed with Python's struct module, not with the codec under
 * test), and the value each must decode to.
 */
import type { Tables } from './pymodbus.js';

type Entry = { sensor: string; address: number; type: string; order?: string; length?: number; scale?: number; offset?: number; unit?: string; words: number[]; value: number | string };

const ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
const WORDS: Record<string, { value: number; words: Record<(typeof ORDERS)[number], number[]> }> = {
  float32: { value: 123.45600128173828, words: { ABCD: [0x42f6, 0xe979], CDAB: [0xe979, 0x42f6], BADC: [0xf642, 0x79e9], DCBA: [0x79e9, 0xf642] } },
  int32: { value: -123456789, words: { ABCD: [0xf8a4, 0x32eb], CDAB: [0x32eb, 0xf8a4], BADC: [0xa4f8, 0xeb32], DCBA: [0xeb32, 0xa4f8] } },
  uint32: { value: 3000000000, words: { ABCD: [0xb2d0, 0x5e00], CDAB: [0x5e00, 0xb2d0], BADC: [0xd0b2, 0x005e], DCBA: [0x005e, 0xd0b2] } },
  float64: { value: -2.5e10 + 0.125, words: { ABCD: [0xc217, 0x4876, 0xe7ff, 0x8000], CDAB: [0x8000, 0xe7ff, 0x4876, 0xc217], BADC: [0x17c2, 0x7648, 0xffe7, 0x0080], DCBA: [0x0080, 0xffe7, 0x7648, 0x17c2] } },
  int64: { value: -9007199254740991, words: { ABCD: [0xffe0, 0, 0, 1], CDAB: [1, 0, 0, 0xffe0], BADC: [0xe0ff, 0, 0, 0x0100], DCBA: [0x0100, 0, 0, 0xe0ff] } },
  uint64: { value: 1234567890123, words: { ABCD: [0, 0x011f, 0x71fb, 0x04cb], CDAB: [0x04cb, 0x71fb, 0x011f, 0], BADC: [0, 0x1f01, 0xfb71, 0xcb04], DCBA: [0xcb04, 0xfb71, 0x1f01, 0] } },
};

export const HOLDING: Entry[] = [];
let at = 0;
for (const [type, { value, words }] of Object.entries(WORDS)) {
  for (const order of ORDERS) {
    HOLDING.push({ sensor: `${type}_${order.toLowerCase()}`, address: at, type, order, words: words[order], value });
    at += words[order].length;
  }
}
HOLDING.push({ sensor: 'int16', address: at++, type: 'int16', words: [0xfb2e], value: -1234 });
HOLDING.push({ sensor: 'uint16', address: at++, type: 'uint16', words: [65000], value: 65000 });
HOLDING.push({ sensor: 'int16_badc', address: at++, type: 'int16', order: 'BADC', words: [0x2efb], value: -1234 });
HOLDING.push({ sensor: 'scaled', address: at++, type: 'int16', scale: 0.1, offset: -1, unit: 'Cel', words: [215], value: 20.5 });
HOLDING.push({ sensor: 'model', address: at, type: 'string', length: 4, words: [21316, 19761, 12848, 0], value: 'SDM120' });
at += 4;
export const HOLDING_SPAN = at;

/** Unit 1: the typed block (one holding read), two input ranges far apart (two reads), coils, discrete. */
export function unit1Tables(): Tables {
  return {
    hr: { 0: HOLDING.flatMap((e) => e.words) },
    ir: { 0: [0x4248, 0x0000], 200: [7] },
    co: { 0: [1, 0, 1, 1, 0, 0, 0, 1, 1, 0] },
    di: { 0: [0, 1, 1] },
  };
}

export function unit1Registers(): Record<string, unknown>[] {
  return [
    ...HOLDING.map(({ words: _w, value: _v, ...spec }) => ({ ...spec, function: 'holding' })),
    { sensor: 'power', function: 'input', address: 0, type: 'float32', unit: 'W' },
    { sensor: 'far', function: 'input', address: 200 },
    ...[1, 0, 1, 1, 0, 0, 0, 1, 1, 0].map((_, i) => ({ sensor: `coil${i}`, function: 'coil', address: i })),
    ...[0, 1, 2].map((i) => ({ sensor: `di${i}`, function: 'discrete', address: i })),
  ];
}

export function unit1Expected(): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = { power: 50, far: 7 };
  for (const e of HOLDING) out[e.sensor] = e.value;
  [1, 0, 1, 1, 0, 0, 0, 1, 1, 0].forEach((v, i) => (out[`coil${i}`] = v === 1));
  [0, 1, 1].forEach((v, i) => (out[`di${i}`] = v === 1));
  return out;
}

/** Unit 2: 130 adjacent holding registers and 2100 coils: past the 125 / 2000 limits, two reads each. */
export function unit2Tables(): Tables {
  return { hr: { 1000: Array.from({ length: 130 }, (_, i) => i) }, co: { 0: Array.from({ length: 2100 }, (_, i) => i % 3 === 0 ? 1 : 0) } };
}

export function unit2Registers(): Record<string, unknown>[] {
  return [
    ...Array.from({ length: 130 }, (_, i) => ({ sensor: `r${i}`, function: 'holding', address: 1000 + i })),
    ...Array.from({ length: 2100 }, (_, i) => ({ sensor: `c${i}`, function: 'coil', address: i })),
  ];
}
