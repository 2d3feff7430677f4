import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ManualClock } from '#device-sdk/clock';
import {
  decodeMessage,
  decodePayload,
  encodeCompound,
  encodeMessage,
  MAX_DATAGRAM,
  MAX_MESSAGE,
  packCompound,
} from '#gateway/mesh/codec';
import { CodecError } from '#gateway/mesh/bytes';
import { decodeMeta, encodeMeta, emptyMeta } from '#gateway/mesh/meta';
import { Seal } from '#gateway/mesh/seal';
import { KeyRing } from '#gateway/mesh/keyring';
import { SeededRandom } from '#gateway/mesh/random';
import type { Message } from '#gateway/mesh/messages';

const vectors = JSON.parse(readFileSync(new URL('../../../gateway/src/mesh/test-vectors.json', import.meta.url), 'utf8'));

function revive(v: any): any {
  if (v && typeof v === 'object' && typeof v.buffer === 'string' && Object.keys(v).length === 1) return Buffer.from(v.buffer, 'hex');
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
  return v;
}

describe('mesh codec test vectors (FORMAT.md)', () => {
  for (const [name, vec] of Object.entries<any>(vectors.messages)) {
    it(`${name} encodes and decodes to the vector`, () => {
      const m = revive(vec.value) as Message;
      expect(encodeMessage(m).toString('hex')).toBe(vec.hex);
      expect(decodeMessage(Buffer.from(vec.hex, 'hex'))).toEqual(m);
    });
  }

  it('meta matches its vector', () => {
    expect(encodeMeta(vectors.meta.value).toString('hex')).toBe(vectors.meta.hex);
    expect({ ...decodeMeta(Buffer.from(vectors.meta.hex, 'hex')) }).toEqual(vectors.meta.value);
  });

  it('compound matches its vector', () => {
    const parts = vectors.compound.parts.map((p: string) => encodeMessage(revive(vectors.messages[p].value)));
    expect(encodeCompound(parts).toString('hex')).toBe(vectors.compound.hex);
    expect(decodePayload(Buffer.from(vectors.compound.hex, 'hex')).map((m) => m.type)).toEqual(['ping', 'suspect']);
  });

  it('sealed packet matches its vector and opens', () => {
    const s = vectors.sealed;
    const clock = new ManualClock(s.sentAt);
    const mk = (session: number) =>
      new Seal({ keyring: new KeyRing([s.keyBase64]), label: s.label, clock, random: { next: () => session / 2 ** 32 }, replayWindowMs: 60_000 });
    const sealed = mk(s.session).seal(encodeMessage({ type: 'ack', seq: 7 }));
    expect(sealed.toString('hex')).toBe(s.hex);
    // The receiver is another member (another session id): its own session's packets are reflections.
    const opened = mk((s.session + 1) % 2 ** 32).open(Buffer.from(s.hex, 'hex'));
    expect(opened.ok && decodePayload(opened.payload)).toEqual([{ type: 'ack', seq: 7 }]);
  });
});

describe('mesh codec limits', () => {
  it('refuses metadata over 512 bytes', () => {
    const tags: Record<string, string> = {};
    for (let i = 0; i < 5; i++) tags[`k${i}`] = 'x'.repeat(100);
    expect(() => encodeMeta({ ...emptyMeta, tags })).toThrow(/FM_ERR_MESH_META_TOO_LARGE/);
    expect(encodeMeta({ ...emptyMeta, tags: { a: 'x'.repeat(200), b: 'y'.repeat(200) } }).length).toBeLessThanOrEqual(512);
  });

  it('an alive with the largest metadata and id still fits a datagram', () => {
    const meta = Buffer.alloc(512, 1);
    const m = encodeMessage({ type: 'alive', incarnation: 2 ** 32 - 1, node: 'x'.repeat(64), addr: '[ffff::ffff]:65535', meta });
    expect(m.length + 36).toBeLessThanOrEqual(MAX_DATAGRAM);
  });

  it('packs many parts into compounds no larger than a datagram and at most 255 parts', () => {
    const parts = Array.from({ length: 900 }, (_, i) => encodeMessage({ type: 'ack', seq: i }));
    const packed = packCompound(parts);
    let total = 0;
    for (const p of packed) {
      expect(p.length).toBeLessThanOrEqual(MAX_MESSAGE);
      const msgs = decodePayload(p);
      expect(msgs.length).toBeLessThanOrEqual(255);
      total += msgs.length;
    }
    expect(total).toBe(900);
    // 7 bytes per ack part: 194 fit in 1364 bytes.
    expect(packed.length).toBe(5);
    const tiny = packCompound(Array.from({ length: 600 }, () => Buffer.from([3])));
    expect(tiny.map((p) => p[1])).toEqual([255, 255, 90]);
    const big = Array.from({ length: 10 }, () => encodeMessage({ type: 'alive', incarnation: 1, node: 'n', addr: '1.2.3.4:5', meta: Buffer.alloc(500) }));
    for (const p of packCompound(big)) expect(p.length).toBeLessThanOrEqual(MAX_MESSAGE);
  });

  it('rejects hostile payloads with CodecError, never anything else', () => {
    const random = new SeededRandom(42);
    const good = Object.values<any>(vectors.messages).map((v) => Buffer.from(v.hex, 'hex'));
    for (let i = 0; i < 5000; i++) {
      const base = Buffer.from(good[i % good.length]!);
      const mutated = base.subarray(0, Math.floor(random.next() * (base.length + 1)));
      if (random.next() < 0.5 && mutated.length > 0) mutated[Math.floor(random.next() * mutated.length)] = Math.floor(random.next() * 256);
      try {
        decodePayload(Buffer.from(mutated));
      } catch (err) {
        expect(err).toBeInstanceOf(CodecError);
      }
    }
    expect(() => decodeMessage(Buffer.from('0100000007ff', 'hex'))).toThrow(CodecError);
    expect(() => decodeMessage(Buffer.from('0100000007016a0467772d61040a0000011f0a', 'hex'))).not.toThrow();
    expect(() => decodeMessage(Buffer.from('0100000007012f0467772d61040a0000011f0a', 'hex'))).toThrow(/bad member id/);
    expect(() => decodePayload(Buffer.from('0901000509', 'hex'))).toThrow(CodecError);
  });

  it('hostile tag "__proto__" stays a plain key', () => {
    const meta = decodeMeta(encodeMeta({ ...emptyMeta, tags: { ['__proto__']: 'x' } as Record<string, string> }));
    expect(Object.keys(meta.tags)).toEqual(['__proto__']);
    expect(meta.tags['__proto__']).toBe('x');
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });
});
