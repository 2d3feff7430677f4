import { describe, expect, it } from 'vitest';
import {
  cobsDecode,
  cobsEncode,
  crc16,
  decodeFrameBlock,
  encodeFrame,
  encodeFrameBody,
  frameReadings,
  FrameEncodeError,
} from '#device-sdk/frame/index';
import { hex, unhex, vectors } from './vectors.js';

describe('CRC-16/CCITT-FALSE', () => {
  it('has the catalogue check value over "123456789"', () => {
    expect(crc16(new TextEncoder().encode(vectors.crc.input)).toString(16)).toBe(vectors.crc.check);
  });
});

describe('COBS', () => {
  it('round-trips and never emits 0x00, around the 254-byte block boundary', () => {
    for (const n of [0, 1, 2, 253, 254, 255, 508, 509, 600]) {
      for (const fill of [0, 1, 7]) {
        const src = new Uint8Array(n).map((_, i) => (fill === 7 ? (i % 7 === 0 ? 0 : i & 0xff || 1) : fill));
        const enc = cobsEncode(src);
        expect(enc.includes(0)).toBe(false);
        expect(hex(cobsDecode(enc)!)).toBe(hex(src));
      }
    }
  });
  it('rejects a 0x00 inside a block and a code past the end', () => {
    expect(cobsDecode(Uint8Array.from([3, 1, 0]))).toBeUndefined();
    expect(cobsDecode(Uint8Array.from([5, 1]))).toBeUndefined();
  });
});

describe('fm-frame v1 vectors (device-sdk/vectors/fm-frame-v1.json)', () => {
  it.each(vectors.valid.map((v) => [v.name, v] as const))('encodes and decodes: %s', (_n, v) => {
    expect(hex(encodeFrameBody(v.input))).toBe(v.body);
    expect(hex(encodeFrame(v.input))).toBe(v.wire);
    const wire = unhex(v.wire);
    const r = decodeFrameBlock(wire.subarray(1, wire.length - 1));
    expect(r).toEqual({ ok: true, frame: v.decoded });
  });
  it.each(vectors.invalid.map((v) => [v.name, v] as const))('rejects: %s', (_n, v) => {
    const wire = unhex(v.wire);
    expect(decodeFrameBlock(wire.subarray(1, wire.length - 1))).toEqual({ ok: false, code: v.reject });
  });
});

describe('encoder input checks', () => {
  it.each([
    [{ seq: 70000, readings: [] }, /seq/],
    [{ device: 'bad id!', seq: 0, readings: [] }, /device id/],
    [{ seq: 0, readings: [{ sensor: 't', value: 300, type: 'i8' as const }] }, /does not fit i8/],
    [{ seq: 0, readings: [{ sensor: 't', value: 1.5, type: 'f32' as const, exp: -1 }] }, /exponent/],
    [{ seq: 0, readings: [{ sensor: 'a b', value: 1 }] }, /sensor name/],
    [{ seq: 0, readings: [{ sensor: 't', value: Number.NaN }] }, /finite/],
    [{ seq: 0, readings: Array.from({ length: 200 }, () => ({ sensor: 'long-sensor-name', value: 1.1 })) }, /exceeds 1024/],
  ])('throws FM_ERR_FRAME_ENCODE naming the field (%#)', (input, msg) => {
    expect(() => encodeFrameBody(input)).toThrow(FrameEncodeError);
    expect(() => encodeFrameBody(input)).toThrow(msg);
  });
});

describe('frameReadings', () => {
  it('names series device/sensor and dates readings by base time or receive time minus age', () => {
    const withBase = vectors.valid.find((v) => v.decoded.baseTime !== undefined)!.decoded;
    expect(frameReadings(withBase, 5, 'port-dev')[0]).toEqual({ series: 'gps-7/lat', ts: 1767225600123 - 1500, value: 48.1173 });
    const noDevice = { version: 1, device: '', seq: 0, readings: [{ sensor: 't', value: 1, ageMs: 20 }] };
    expect(frameReadings(noDevice, 1000, 'port-dev')).toEqual([{ series: 'port-dev/t', ts: 980, value: 1 }]);
  });
});
