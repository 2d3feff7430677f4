import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LoggedReading } from '#gateway/store/reading-log';
import { BATCH_LIMITS, decodeBatch, encodeBatch, ProtocolError } from '@fieldmesh/protocol';
import { fromVectorValue, type VectorFile } from '../../protocol/vectors/vector-file.js';

const vectorDir = join(dirname(fileURLToPath(import.meta.url)), '../../protocol/vectors');

/** Object.is-based equality so NaN and -0 are compared exactly. */
function expectSameReadings(actual: LoggedReading[], expected: LoggedReading[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    expect({ ...a, value: 0 }).toEqual({ ...e, value: 0 });
    if (!Object.is(a.value, e.value)) throw new Error(`reading ${i}: value ${String(a.value)} != ${String(e.value)}`);
  }
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) return err.code;
    throw err;
  }
  return 'no error';
}

describe('batch codec test vectors', () => {
  const files = readdirSync(vectorDir).filter((f) => f.endsWith('.json'));
  it('has vectors', () => expect(files.length).toBeGreaterThanOrEqual(4));
  for (const f of files) {
    it(`${f}: decodes to its readings and re-encodes to the same bytes`, () => {
      const v = JSON.parse(readFileSync(join(vectorDir, f), 'utf8')) as VectorFile;
      const readings = v.readings.map((r) => ({ ...r, value: fromVectorValue(r.value) })) as LoggedReading[];
      const batch = decodeBatch(Buffer.from(v.hex, 'hex'));
      expect(batch.gatewayId).toBe(v.gatewayId);
      expect(batch.epoch).toBe(v.epoch);
      expect(batch.firstSeq).toBe(readings[0]!.seq);
      expect(batch.lastSeq).toBe(readings.at(-1)!.seq);
      expectSameReadings(batch.readings, readings);
      expect(encodeBatch({ gatewayId: v.gatewayId, epoch: v.epoch, readings }).toString('hex')).toBe(v.hex);
    });
  }
});

const special = fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, 5e-324, -5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, 2 ** 53, 1e-300, 0.1, 123.456);
const value = fc.oneof(
  fc.double(),
  special,
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => n / 100),
  fc.boolean(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);
const seriesName = fc.oneof(fc.constantFrom('a/b', 'dev1/temp', 'dev2/hum'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }));
const readingsArb = fc
  .tuple(
    fc.integer({ min: 1, max: 2 ** 40 }),
    fc.integer({ min: -(2 ** 47), max: 2 ** 47 }),
    fc.array(
      fc.record({
        gap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1000 })),
        series: seriesName,
        dt: fc.oneof(fc.constant(1000), fc.integer({ min: -100_000, max: 100_000 }), fc.integer({ min: -(2 ** 46), max: 2 ** 46 })),
        value,
        unit: fc.option(fc.constantFrom('Cel', '%RH', 'V', 'µg/m³'), { nil: undefined }),
      }),
      { minLength: 1, maxLength: 200 },
    ),
  )
  .map(([seq0, ts0, rows]) => {
    let seq = seq0;
    let ts = ts0;
    return rows.map((r, i) => {
      seq += i === 0 ? 0 : r.gap + 1;
      ts = Math.max(-(2 ** 47), Math.min(2 ** 47, ts + r.dt));
      const out: LoggedReading = { seq, series: r.series, ts, value: r.value };
      if (r.unit !== undefined) out.unit = r.unit;
      return out;
    });
  });

describe('batch codec properties', () => {
  it('round-trips random readings exactly (NaN, ±Infinity, -0, huge, tiny, unicode)', () => {
    fc.assert(
      fc.property(readingsArb, fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 20 }), (readings, gw) => {
        const batch = decodeBatch(encodeBatch({ gatewayId: gw, epoch: 'e1', readings }));
        expect(batch.gatewayId).toBe(gw);
        expect(batch.firstSeq).toBe(readings[0]!.seq);
        expect(batch.lastSeq).toBe(readings.at(-1)!.seq);
        expectSameReadings(batch.readings, readings);
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes give a coded error, never a crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(codeOf(() => decodeBatch(bytes))).toMatch(/^FM_ERR_BATCH_/);
      }),
      { numRuns: 2000 },
    );
  });

  it('random bytes behind a valid magic and version give a coded error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const b = Buffer.concat([Buffer.from('FMB\x01', 'latin1'), bytes]);
        expect(codeOf(() => decodeBatch(b))).toMatch(/^FM_ERR_BATCH_/);
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated batches (flipped, cut, inserted bytes) are detected', () => {
    fc.assert(
      fc.property(
        readingsArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.constantFrom('flip', 'cut', 'insert')), { minLength: 1, maxLength: 4 }),
        (readings, edits) => {
          let b = Buffer.from(encodeBatch({ gatewayId: 'gw', epoch: 'e', readings }));
          for (const [pos, x, kind] of edits) {
            const at = pos % b.length;
            if (kind === 'flip') b[at] = b[at]! ^ x;
            else if (kind === 'cut') b = b.subarray(0, at);
            else b = Buffer.concat([b.subarray(0, at), Buffer.from([x]), b.subarray(at)]);
          }
          expect(codeOf(() => decodeBatch(b))).toMatch(/^FM_ERR_BATCH_/);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('body mutations under a recomputed checksum still give a coded error (a hostile sender)', async () => {
    const { crc32, deflateRawSync } = await import('node:zlib');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), fc.nat(200), fc.nat(100), (body, count, extra) => {
        // A syntactically valid header with any inflated body: exercises every column check.
        const head = Buffer.from([0x46, 0x4d, 0x42, 1, 1, 2, 0x67, 0x77, 1, 0x65, 1 + extra, 1 + extra + count, 1 + (count % 100), body.length]);
        const framed = Buffer.concat([head.subarray(0, 13), varint(body.length), deflateRawSync(body)]);
        const trailer = Buffer.alloc(4);
        trailer.writeUInt32BE(crc32(framed) >>> 0);
        expect(codeOf(() => decodeBatch(Buffer.concat([framed, trailer])))).toMatch(/^FM_ERR_BATCH_/);
      }),
      { numRuns: 1000 },
    );
  });
});

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

describe('batch codec limits and refusals', () => {
  it('refuses to encode what it cannot carry, with FM_ERR_BATCH_UNENCODABLE', () => {
    const ok = { seq: 1, series: 'a/b', ts: 0, value: 1 };
    const enc = (readings: LoggedReading[]) => codeOf(() => encodeBatch({ gatewayId: 'g', epoch: 'e', readings }));
    expect(enc([])).toBe('FM_ERR_BATCH_UNENCODABLE');
    expect(enc([{ ...ok, ts: 0.5 }])).toBe('FM_ERR_BATCH_UNENCODABLE');
    expect(enc([{ ...ok, ts: 2 ** 48 }])).toBe('FM_ERR_BATCH_UNENCODABLE');
    expect(enc([ok, { ...ok, seq: 1 }])).toBe('FM_ERR_BATCH_UNENCODABLE');
    expect(enc([{ ...ok, value: null as unknown as number }])).toBe('FM_ERR_BATCH_UNENCODABLE');
    expect(enc([{ ...ok, value: 'x'.repeat(BATCH_LIMITS.maxStringBytes + 1) }])).toBe('FM_ERR_BATCH_UNENCODABLE');
  });

  it('a zip bomb stops at the announced body size', async () => {
    const { crc32, deflateRawSync } = await import('node:zlib');
    const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024));
    const framed = Buffer.concat([Buffer.from([0x46, 0x4d, 0x42, 1, 1, 1, 0x67, 1, 0x65, 1, 1, 1]), varint(1000), bomb]);
    const trailer = Buffer.alloc(4);
    trailer.writeUInt32BE(crc32(framed) >>> 0);
    const started = performance.now();
    expect(codeOf(() => decodeBatch(Buffer.concat([framed, trailer])))).toBe('FM_ERR_BATCH_TOO_LARGE');
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('a 1 Hz slowly-changing batch takes well under 6 bytes per reading', () => {
    const readings: LoggedReading[] = [];
    for (let i = 0; i < 3000; i++) {
      const s = i % 10;
      readings.push({ seq: i + 1, series: `dev${s}/temp`, ts: 1_767_225_600_000 + Math.floor(i / 10) * 1000 + s, value: 20 + s + Math.round(Math.sin(i / 400) * 10) / 10, unit: 'Cel' });
    }
    const bytes = encodeBatch({ gatewayId: 'gw-a', epoch: 'e', readings });
    expect(bytes.length / readings.length).toBeLessThan(6);
  });
});
