import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ManualClock } from '#device-sdk/clock';
import { Seal } from '#gateway/mesh/seal';
import { KeyRing } from '#gateway/mesh/keyring';
import { SeededRandom } from '#gateway/mesh/random';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const payload = Buffer.from('0300000007', 'hex');

function pair(opts: { label?: string; keys?: Buffer[]; otherLabel?: string; otherKeys?: Buffer[] } = {}) {
  const clock = new ManualClock();
  const random = new SeededRandom(1);
  const a = new Seal({ keyring: new KeyRing(opts.keys ?? [k1]), label: opts.label ?? 'site', clock, random, replayWindowMs: 60_000 });
  const b = new Seal({
    keyring: new KeyRing(opts.otherKeys ?? opts.keys ?? [k1]),
    label: opts.otherLabel ?? opts.label ?? 'site',
    clock,
    random,
    replayWindowMs: 60_000,
  });
  return { a, b, clock };
}

describe('mesh envelope', () => {
  it("refuses a member's own packets sent back to it (reflected), without using its replay window", () => {
    const { a, b } = pair();
    for (let i = 0; i < 10; i++) {
      const sealed = a.seal(payload);
      expect(a.open(sealed)).toEqual({ ok: false, reason: 'reflected' });
      expect(b.open(sealed).ok).toBe(true);
    }
    // a still accepts b's packets: reflection is told apart by the session, not by the key.
    expect(a.open(b.seal(payload)).ok).toBe(true);
  });

  it('round-trips with 29 bytes of crypto overhead plus a 7-byte body header', () => {
    const { a, b } = pair();
    const sealed = a.seal(payload);
    expect(sealed.length).toBe(payload.length + 29 + 7);
    const r = b.open(sealed);
    expect(r.ok && r.payload.equals(payload)).toBe(true);
  });

  it('drops tampered, truncated, unencrypted and wrong-key packets as auth/malformed', () => {
    const { a, b } = pair();
    const sealed = a.seal(payload);
    for (let i = 13; i < sealed.length; i++) {
      const t = Buffer.from(sealed);
      t[i]! ^= 0x40;
      expect(b.open(t)).toEqual({ ok: false, reason: 'auth' });
    }
    expect(b.open(sealed.subarray(0, 20))).toEqual({ ok: false, reason: 'malformed' });
    expect(b.open(Buffer.concat([Buffer.from([9]), payload, Buffer.alloc(40)]))).toEqual({ ok: false, reason: 'version' });
    expect(pair({ otherKeys: [k2] }).b.open(sealed)).toEqual({ ok: false, reason: 'auth' });
  });

  it('two meshes with the same key but different labels never mix', () => {
    const { a, b } = pair({ label: 'site-a', otherLabel: 'site-b' });
    expect(b.open(a.seal(payload))).toEqual({ ok: false, reason: 'auth' });
  });

  it('drops replays inside the window and packets older than the window', () => {
    const { a, b, clock } = pair();
    const first = a.seal(payload);
    const later = Array.from({ length: 4200 }, () => a.seal(payload));
    expect(b.open(later[5]!).ok).toBe(true);
    expect(b.open(later[5]!)).toEqual({ ok: false, reason: 'replay' });
    // Out of order within 4096 packets is fine (a sender's burst to many members, reordered by
    // jitter, spans hundreds of counters); once.
    expect(b.open(later[2]!).ok).toBe(true);
    expect(b.open(later[2]!)).toEqual({ ok: false, reason: 'replay' });
    expect(b.open(later[1000]!).ok).toBe(true);
    expect(b.open(later[600]!).ok).toBe(true);
    expect(b.open(later[600]!)).toEqual({ ok: false, reason: 'replay' });
    expect(b.open(later[4199]!).ok).toBe(true);
    expect(b.open(first)).toEqual({ ok: false, reason: 'replay' });
    const old = a.seal(payload);
    clock.advance(61_000);
    expect(b.open(old)).toEqual({ ok: false, reason: 'stale' });
  });

  it('rotates keys live: install, use, remove', () => {
    const ringA = new KeyRing([k1]);
    const ringB = new KeyRing([k1]);
    const clock = new ManualClock();
    const a = new Seal({ keyring: ringA, label: 'x', clock, random: new SeededRandom(2), replayWindowMs: 0 });
    const b = new Seal({ keyring: ringB, label: 'x', clock, random: new SeededRandom(3), replayWindowMs: 0 });
    ringA.install(k2);
    ringB.install(k2);
    expect(b.open(a.seal(payload)).ok).toBe(true);
    ringA.use(k2);
    expect(b.open(a.seal(payload)).ok).toBe(true);
    expect(a.open(b.seal(payload)).ok).toBe(true);
    ringB.use(k2);
    ringA.remove(k1);
    ringB.remove(k1);
    expect(b.open(a.seal(payload)).ok).toBe(true);
    const stray = new Seal({ keyring: new KeyRing([k1]), label: 'x', clock, random: new SeededRandom(4), replayWindowMs: 0 });
    expect(b.open(stray.seal(payload))).toEqual({ ok: false, reason: 'auth' });
    expect(() => ringA.remove(k2)).toThrow(/FM_ERR_MESH_KEYRING/);
    expect(() => ringA.use(k1)).toThrow(/FM_ERR_MESH_KEYRING/);
    expect(() => new KeyRing([Buffer.alloc(16)])).toThrow(/FM_ERR_MESH_KEY/);
  });
});
