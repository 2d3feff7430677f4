import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSenml, encodeSenml, SenmlError, type Reading } from '@fieldmesh/device-sdk';

interface Vectors {
  decode: Array<{ pack: string; device: string; now: number; readings?: Reading[]; deviceSeq?: number; error?: string }>;
  encode: Array<{ readings: Reading[]; deviceSeq?: number; pack: string }>;
}

const vectors = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../device-sdk/src/senml/vectors.json'), 'utf8')) as Vectors;

describe('SenML test vectors (device-sdk/src/senml/vectors.json)', () => {
  it.each(vectors.decode.map((v) => [v.pack, v] as const))('decodes %s', (_pack, v) => {
    if (v.error) {
      expect(() => decodeSenml(v.pack, v)).toThrow(SenmlError);
      expect(() => decodeSenml(v.pack, v)).toThrow(expect.objectContaining({ code: v.error }));
      return;
    }
    const out = decodeSenml(v.pack, v);
    expect(out.readings).toEqual(v.readings);
    expect(out.deviceSeq).toBe(v.deviceSeq);
  });

  it.each(vectors.encode.map((v) => [v.pack, v] as const))('encodes %s', (_pack, v) => {
    expect(encodeSenml(v.readings, v.deviceSeq === undefined ? {} : { deviceSeq: v.deviceSeq })).toBe(v.pack);
  });
});
