import type { WireReading } from '../src/wire-reading.js';

/**
 * Test vectors are JSON so other languages can replay them. JSON has no NaN, ±Infinity or -0,
 * so a number value that JSON cannot carry exactly is written as `{ "f64": "<16 hex digits>" }`
 * (the IEEE-754 bits, big-endian).
 */
export interface VectorFile {
  description: string;
  formatVersion: number;
  gatewayId: string;
  epoch: string;
  readings: Array<Omit<WireReading, 'value'> & { value: number | boolean | string | { f64: string } }>;
  hex: string;
}

export function toVectorValue(v: number | boolean | string): number | boolean | string | { f64: string } {
  if (typeof v !== 'number' || (Number.isFinite(v) && !Object.is(v, -0))) return v;
  const b = Buffer.alloc(8);
  b.writeDoubleBE(v);
  return { f64: b.toString('hex') };
}

export function fromVectorValue(v: number | boolean | string | { f64: string }): number | boolean | string {
  if (typeof v === 'object') return Buffer.from(v.f64, 'hex').readDoubleBE(0);
  return v;
}
