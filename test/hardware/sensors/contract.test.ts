/**
 * One contract suite run against every sensor profile (one contract, every implementation): streams cut at every
 * position, random bytes, mutated valid messages.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrameBlock, encodeFrame } from '#device-sdk/frame/index';
import { createSensorParser, mhz19Reply, nmeaSentence, pms5003Frame, SENSOR_PROFILES, type SensorProfileName } from '#hardware/sensors/index';
import { bytes, feedCut } from './feed.js';

interface Case {
  /** Three valid messages in a row, and how many readings they carry. */
  messages: Uint8Array[];
  readingsPerMessage: number;
  /** Bytes that end any garbage so that the next message is read (LF for text protocols). */
  separator: Uint8Array;
}

// Data bytes below 0x40 keep the binary frames free of accidental sync headers, which the
// exact-count property needs (a header inside a frame is resynchronised on, correctly, but then
// counts differ from "one per mutated frame").
const cases: Record<SensorProfileName, Case> = {
  line: { messages: ['t=21.5 h=40\n', 't=-3 h=41.25 door=true\r\n', 'x.y/z=1e3,q=2\n'].map((s) => bytes(s)), readingsPerMessage: 0, separator: bytes('\n') },
  'senml-line': {
    messages: ['[{"bn":"x/","n":"t","v":21.5},{"n":"h","v":40}]\n', '{"n":"t","v":22,"u":"Cel"}\n', '[{"n":"ok","vb":true},{"n":"msg","vs":"é"}]\r\n'].map((s) => bytes(Buffer.from(s, 'utf8'))),
    readingsPerMessage: 0,
    separator: bytes('\n'),
  },
  'fm-frame': {
    messages: [1, 2, 3].map((seq) => encodeFrame({ seq, readings: [{ sensor: 't', value: 20 + seq }, { sensor: 1, value: true }] })),
    readingsPerMessage: 2,
    separator: new Uint8Array(0),
  },
  nmea0183: {
    messages: [
      '$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n',
      '$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n',
      nmeaSentence('GNGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1'),
    ].map((s) => bytes(s)),
    readingsPerMessage: 0,
    separator: bytes('\n'),
  },
  pms5003: { messages: [1, 2, 3].map((k) => pms5003Frame([k, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0])), readingsPerMessage: 9, separator: new Uint8Array(0) },
  mhz19: { messages: [400, 512, 1000].map((ppm) => mhz19Reply(ppm, 25)), readingsPerMessage: 2, separator: new Uint8Array(0) },
};
const readingCount: Record<SensorProfileName, number> = { line: 2 + 3 + 2, 'senml-line': 2 + 1 + 2, 'fm-frame': 6, nmea0183: 6 + 4 + 4, pms5003: 27, mhz19: 6 };
const isText = (p: SensorProfileName) => SENSOR_PROFILES[p].encoding === 'text';

function splitOnZero(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= b.length; i++) {
    if (i === b.length || b[i] === 0) {
      if (i > start) out.push(b.subarray(start, i));
      start = i + 1;
    }
  }
  return out;
}

/** Complete non-blank lines (ended by LF or CR) in a stream: each must be exactly one accepted, ignored or rejected message. */
function completeLines(s: Uint8Array): number {
  const parts = Buffer.from(s).toString('latin1').split(/[\r\n]/);
  parts.pop();
  return parts.filter((l) => !/^[ \t]*$/.test(l)).length;
}

describe.each(Object.keys(cases) as SensorProfileName[])('sensor profile %s', (profile) => {
  const c = cases[profile];
  const stream = bytes(...c.messages);
  const make = () => createSensorParser(profile, { device: 'dev1' });

  it('reads valid messages whatever the cut: at every position, and byte by byte', () => {
    const whole = feedCut(make(), stream);
    expect(whole).toHaveLength(readingCount[profile]);
    expect(whole.every((r) => r.series.startsWith('dev1/'))).toBe(true);
    for (let cut = 0; cut <= stream.length; cut++) {
      for (const second of [cut + 1, cut + 7]) {
        const p = make();
        expect(feedCut(p, stream, [cut, second])).toEqual(whole);
        expect(p.stats().rejected).toBe(0);
      }
    }
    const p = make();
    expect(feedCut(p, stream, Array.from({ length: stream.length }, (_, i) => i))).toEqual(whole);
    expect(p.stats()).toMatchObject({ frames: 3, rejected: 0, bytes: stream.length });
  });

  it('fuzz: random bytes never throw, stats do not depend on the cuts, and a valid message after garbage is read', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(2100), { maxLength: 6 }), (garbage, cuts) => {
        const s = bytes(garbage, c.separator, c.messages[0]!);
        const a = make();
        const b = make();
        const ra = feedCut(a, s);
        const rb = feedCut(b, s, cuts);
        expect(rb).toEqual(ra);
        expect(b.stats()).toEqual(a.stats());
        const last = feedCut(make(), c.messages[0]!);
        expect(ra.slice(-last.length)).toEqual(last);
        if (isText(profile)) {
          const st = a.stats();
          expect(st.frames + st.ignored + st.rejected).toBe(completeLines(s));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('fuzz: a single mutated byte costs exactly that message (one reject) and the next ones are read', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.array(fc.nat(200), { maxLength: 4 }), (pos, delta, cuts) => {
        const m = Buffer.from(c.messages[1]!);
        const at = pos % m.length;
        m[at] = (m[at]! + delta) & 0xff;
        // In text, a byte turned into LF or CR splits the line in two; that is two messages, not one.
        const s = bytes(c.messages[0]!, m, c.separator, c.messages[2]!);
        const p = make();
        const out = feedCut(p, s, cuts);
        const st = p.stats();
        const first = feedCut(make(), c.messages[0]!);
        const third = feedCut(make(), c.messages[2]!);
        expect(out.slice(0, first.length)).toEqual(first);
        expect(out.slice(-third.length)).toEqual(third);
        if (isText(profile)) expect(st.frames + st.ignored + st.rejected).toBe(completeLines(s));
        else if (profile === 'fm-frame') {
          // A byte turned into 0x00 splits the frame into two blocks: each is judged on its own.
          const hexBlocks = splitOnZero(m);
          expect(st.rejected).toBe(hexBlocks.filter((b) => !decodeFrameBlock(b).ok).length);
          expect(st.frames).toBe(2 + hexBlocks.filter((b) => decodeFrameBlock(b).ok).length);
        } else {
          expect(st.frames).toBe(2);
          expect(st.rejected).toBe(1);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('counts an oversized message once and does not buffer it', () => {
    const p = make();
    const junk = new Uint8Array(64 * 1024).fill(0x41);
    for (let i = 0; i < 4; i++) p.feed(junk, 0);
    const out = feedCut(p, bytes(c.separator, ...c.messages));
    expect(out).toHaveLength(readingCount[profile]);
    const st = p.stats();
    expect(st.rejected).toBe(1);
    expect(st.rejects[isText(profile) ? 'oversized' : profile === 'fm-frame' ? 'oversized' : 'noise']).toBe(1);
    expect(st.discardedBytes).toBeGreaterThanOrEqual(4 * junk.length);
  });
});
