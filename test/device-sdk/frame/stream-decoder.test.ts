import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrameBlock, encodeFrame, FRAME_MAX_BYTES, FrameStreamDecoder, type Frame } from '#device-sdk/frame/index';
import { unhex, vectors } from './vectors.js';

const wires = vectors.valid.map((v) => unhex(v.wire));
const all = Buffer.concat(wires);

/** What a correct stream decoder must report: one result per non-empty 0x00-delimited block. */
function expected(stream: Uint8Array): { frames: number; rejected: number } {
  let frames = 0;
  let rejected = 0;
  let start = 0;
  for (let i = 0; i <= stream.length; i++) {
    if (i === stream.length || stream[i] === 0) {
      // A block still open at the end of the stream is not judged yet.
      if (i > start && i < stream.length) {
        const block = stream.subarray(start, i);
        if (block.length > FRAME_MAX_BYTES + 6) rejected++;
        else if (decodeFrameBlock(block).ok) frames++;
        else rejected++;
      }
      start = i + 1;
    }
  }
  return { frames, rejected };
}

function feed(stream: Uint8Array, cuts: number[]): { frames: Frame[]; dec: FrameStreamDecoder } {
  const dec = new FrameStreamDecoder();
  const frames: Frame[] = [];
  let at = 0;
  for (const c of [...cuts.filter((c) => c > 0 && c < stream.length).sort((a, b) => a - b), stream.length]) {
    frames.push(...dec.push(stream.subarray(at, c)).frames);
    at = c;
  }
  return { frames, dec };
}

describe('FrameStreamDecoder', () => {
  it('decodes every vector with the stream split at every position (and into single bytes)', () => {
    const want = vectors.valid.map((v) => v.decoded);
    for (let cut = 0; cut <= all.length; cut++) expect(feed(all, [cut]).frames).toEqual(want);
    expect(feed(all, Array.from({ length: all.length }, (_, i) => i)).frames).toEqual(want);
  });

  it('counts garbage between frames as exactly one reject per block and still reads the next frame', () => {
    const garbage = Buffer.from('NMEA? $$ \xff\xfe junk', 'latin1');
    const stream = Buffer.concat([wires[1]!, garbage, wires[2]!, Buffer.from([0x00, 0x13, 0x37, 0x00]), wires[3]!]);
    const { frames, dec } = feed(stream, [5, 30]);
    expect(frames.map((f) => f.seq)).toEqual([1, 65535, 258]);
    expect(dec.stats().rejected).toBe(2);
    expect(dec.stats().noiseBytes).toBe(garbage.length + 2);
  });

  it('counts bad CRCs exactly', () => {
    const bad = vectors.invalid.find((v) => v.reject === 'FM_ERR_FRAME_CRC')!;
    const stream = Buffer.concat([unhex(bad.wire), wires[0]!, unhex(bad.wire), unhex(bad.wire), wires[1]!]);
    const { frames, dec } = feed(stream, [3, 17]);
    expect(frames).toHaveLength(2);
    expect(dec.stats().rejects.FM_ERR_FRAME_CRC).toBe(3);
    expect(dec.stats().rejected).toBe(3);
  });

  it('drops an oversized block once, without buffering it, and resynchronises', () => {
    const dec = new FrameStreamDecoder();
    for (let i = 0; i < 100; i++) dec.push(new Uint8Array(1000).fill(0x41));
    const out = dec.push(wires[1]!);
    expect(out.frames.map((f) => f.seq)).toEqual([1]);
    expect(dec.stats().rejects.FM_ERR_FRAME_OVERSIZED).toBe(1);
    expect(dec.stats().noiseBytes).toBe(100_000);
  });

  it('decodes the largest frame the encoder makes', () => {
    const readings = Array.from({ length: 100 }, (_, i) => ({ sensor: `s${i}`, value: i * 1.25 }));
    const wire = encodeFrame({ seq: 3, readings: readings.slice(0, 90) });
    expect(feed(wire, [600]).frames[0]!.readings).toHaveLength(90);
  });

  it('fuzz: random bytes and cuts never throw and counts match the block-by-block decoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(3000), { maxLength: 8 }), (bytes, cuts) => {
        const stream = Buffer.concat([bytes, Buffer.from([0]), wires[1]!]);
        const { frames, dec } = feed(stream, cuts);
        const want = expected(stream);
        expect(dec.stats().frames).toBe(want.frames);
        expect(dec.stats().rejected).toBe(want.rejected);
        expect(frames.at(-1)!.seq).toBe(1);
      }),
      { numRuns: 300 },
    );
  });

  it('fuzz: mutated valid frames are rejected or decoded, never thrown, counts exact', () => {
    fc.assert(
      fc.property(
        fc.nat(wires.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(600), { maxLength: 5 }),
        (which, edits, cuts) => {
          const m = Buffer.from(wires[which]!);
          for (const [pos, b] of edits) m[pos % m.length] = b;
          const stream = Buffer.concat([m, wires[2]!]);
          const { frames, dec } = feed(stream, cuts);
          const want = expected(stream);
          expect(dec.stats().frames).toBe(want.frames);
          expect(dec.stats().rejected).toBe(want.rejected);
          expect(frames.at(-1)!.seq).toBe(65535);
        },
      ),
      { numRuns: 500 },
    );
  });
});
