import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeSenml, encodeSenml, isSenmlError, SenmlError, SENML_LIMITS, type Reading } from '@fieldmesh/device-sdk';

const now = Date.UTC(2026, 0, 1);
const opts = { device: 'th1', now };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof SenmlError) return err.code;
    throw err;
  }
  throw new Error('did not throw');
}

describe('SenML decoding (SENML.md vectors)', () => {
  it('resolves base name, time, unit and fm_seq', () => {
    const out = decodeSenml(
      '[{"fm_seq":7,"bn":"th1/","bt":1767225600,"bu":"Cel","n":"temp","v":21.5},{"n":"hum","u":"%RH","v":40,"t":1},{"n":"door","vb":true,"t":2}]',
      opts,
    );
    expect(out.deviceSeq).toBe(7);
    expect(out.readings).toEqual([
      { series: 'th1/temp', ts: 1767225600000, value: 21.5, unit: 'Cel' },
      { series: 'th1/hum', ts: 1767225601000, value: 40, unit: '%RH' },
      { series: 'th1/door', ts: 1767225602000, value: true, unit: 'Cel' },
    ]);
  });

  it('treats times under 2^28 s as relative to now, and a missing time as now', () => {
    expect(decodeSenml('[{"n":"temp","v":20,"t":-5}]', opts).readings[0]!.ts).toBe(now - 5000);
    expect(decodeSenml(Buffer.from('[{"n":"temp","vs":"ok"}]'), opts).readings[0]).toEqual({ series: 'th1/temp', ts: now, value: 'ok' });
  });

  it('adds bv to v and lets base-only records set bases', () => {
    const out = decodeSenml('[{"bv":100,"bn":"m/"},{"n":"a","v":1},{"n":"b","v":-1}]', opts);
    expect(out.readings.map((r) => [r.series, r.value])).toEqual([
      ['th1/m/a', 101],
      ['th1/m/b', 99],
    ]);
  });

  it('never lets a device write under another device id', () => {
    expect(decodeSenml('[{"bn":"other/","n":"temp","v":1}]', opts).readings[0]!.series).toBe('th1/other/temp');
    expect(decodeSenml('[{"n":"th1/temp","v":1}]', opts).readings[0]!.series).toBe('th1/temp');
  });

  it.each([
    ['{"n":"x"}', 'FM_ERR_SENML_JSON'],
    ['[]', 'FM_ERR_SENML_JSON'],
    ['not json', 'FM_ERR_SENML_JSON'],
    ['[1]', 'FM_ERR_SENML_JSON'],
    ['[{"n":"x","vd":"AA"}]', 'FM_ERR_SENML_UNSUPPORTED'],
    ['[{"n":"x","v":1,"s":3}]', 'FM_ERR_SENML_UNSUPPORTED'],
    ['[{"n":"x","v":1,"bver":11}]', 'FM_ERR_SENML_UNSUPPORTED'],
    ['[{"n":"x","v":1,"crit_":1}]', 'FM_ERR_SENML_UNSUPPORTED'],
    ['[{"n":"x","v":1,"vs":"a"}]', 'FM_ERR_SENML_VALUE'],
    ['[{"n":"x","v":"1"}]', 'FM_ERR_SENML_VALUE'],
    ['[{"n":"x","vb":1}]', 'FM_ERR_SENML_VALUE'],
    ['[{"n":"x"}]', 'FM_ERR_SENML_VALUE'],
    ['[{"bn":"x"}]', 'FM_ERR_SENML_VALUE'],
    ['[{"n":"a b","v":1}]', 'FM_ERR_SENML_NAME'],
    ['[{"v":1}]', 'FM_ERR_SENML_NAME'],
    ['[{"n":"th1/","v":1}]', 'FM_ERR_SENML_NAME'],
    ['[{"n":"x","v":1,"t":"now"}]', 'FM_ERR_SENML_TIME'],
    ['[{"n":"x","v":1,"t":1e300}]', 'FM_ERR_SENML_TIME'],
    ['[{"n":"x","v":1,"fm_seq":-1}]', 'FM_ERR_SENML_SEQ'],
    ['[{"n":"x","v":1},{"n":"y","v":1,"fm_seq":2}]', 'FM_ERR_SENML_SEQ'],
    [`[{"n":"x","vs":"${'a'.repeat(SENML_LIMITS.maxStringValue + 1)}"}]`, 'FM_ERR_SENML_LIMIT'],
    [JSON.stringify(Array.from({ length: SENML_LIMITS.maxRecords + 1 }, () => ({ n: 'x', v: 1 }))), 'FM_ERR_SENML_LIMIT'],
  ])('refuses %s with %s', (pack, code) => {
    expect(codeOf(() => decodeSenml(pack, opts))).toBe(code);
  });

  it('ignores unknown fields without a trailing underscore (RFC 8428 §4.4)', () => {
    expect(decodeSenml('[{"n":"x","v":1,"vendor":{"a":1}}]', opts).readings).toHaveLength(1);
  });
});

describe('SenML encoding', () => {
  it('writes the compact vector from SENML.md', () => {
    const pack = encodeSenml(
      [
        { series: 'th1/temp', ts: 1767225600000, value: 21.5, unit: 'Cel' },
        { series: 'th1/temp', ts: 1767225601000, value: 21.6, unit: 'Cel' },
      ],
      { deviceSeq: 3 },
    );
    expect(pack).toBe('[{"fm_seq":3,"bn":"th1/","bt":1767225600,"bu":"Cel","n":"temp","v":21.5},{"n":"temp","v":21.6,"t":1}]');
  });

  it('refuses readings of two devices in one pack', () => {
    expect(codeOf(() => encodeSenml([{ series: 'a/x', ts: now, value: 1 }, { series: 'b/x', ts: now, value: 1 }]))).toBe('FM_ERR_SENML_NAME');
  });
});

const sensor = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,20}(\/[A-Za-z0-9_.:-]{1,10}){0,2}$/);
const reading = fc.record(
  {
    series: sensor.map((s) => `th1/${s}`),
    // Biased to the 2^28 s boundary where absolute and relative times meet (RFC 8428 §4.5.3).
    ts: fc.oneof(fc.integer({ min: 2 ** 28 * 1000, max: 2 ** 28 * 1000 + 100_000 }), fc.integer({ min: 2 ** 28 * 1000, max: 4102444800000 })),
    value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d)), fc.boolean(), fc.string({ maxLength: 50 })),
    unit: fc.constantFrom('Cel', '%RH', 'Pa', 'm/s'),
  },
  { requiredKeys: ['series', 'ts', 'value'] },
);

describe('SenML properties', () => {
  it('encode → decode gives the readings back', () => {
    fc.assert(
      fc.property(fc.array(reading, { minLength: 1, maxLength: 30 }), fc.option(fc.nat(), { nil: undefined }), (readings, seq) => {
        const pack = encodeSenml(readings, seq === undefined ? {} : { deviceSeq: seq });
        const out = decodeSenml(pack, opts);
        expect(out.deviceSeq).toBe(seq);
        expect(out.readings).toEqual(readings.map((r) => (r.unit === undefined ? { series: r.series, ts: r.ts, value: r.value } : r)));
      }),
      { numRuns: 2000 },
    );
  });

  it('random JSON never throws anything but a SenmlError', () => {
    fc.assert(
      fc.property(fc.json(), (json) => {
        try {
          decodeSenml(json, opts);
        } catch (err) {
          expect(isSenmlError(err)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('mutated valid packs never throw anything but a SenmlError', () => {
    const field = fc.constantFrom('bn', 'bt', 'bu', 'bv', 'bver', 'n', 'u', 'v', 'vs', 'vb', 'vd', 's', 't', 'fm_seq', 'x_', '__proto__', 'constructor');
    fc.assert(
      fc.property(fc.array(reading, { minLength: 1, maxLength: 5 }), field, fc.jsonValue(), fc.nat(), fc.nat(), (readings, key, val, at, cut) => {
        const records = JSON.parse(encodeSenml(readings)) as Record<string, unknown>[];
        records[at % records.length]![key] = val;
        const text = JSON.stringify(records);
        for (const input of [text, text.slice(0, cut % (text.length + 1))]) {
          try {
            decodeSenml(input, opts);
          } catch (err) {
            expect(isSenmlError(err)).toBe(true);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});

it('reading type stays the shared one', () => {
  const r: Reading = decodeSenml('[{"n":"x","v":1}]', opts).readings[0]!;
  expect(r.series).toBe('th1/x');
});
