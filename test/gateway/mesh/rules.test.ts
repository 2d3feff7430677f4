import { describe, expect, it } from 'vitest';
import { ManualClock } from '#device-sdk/clock';
import { aliveOverrides, deadOverrides, refutingIncarnation, suspectOverrides } from '#gateway/mesh/member';
import { Suspicion, suspicionMinMs, suspicionTimeout } from '#gateway/mesh/suspicion';
import { Awareness } from '#gateway/mesh/awareness';
import { BroadcastQueue, retransmitLimit } from '#gateway/mesh/broadcast-queue';
import { meshTuning, presets } from '#gateway/mesh/config';

describe('incarnation precedence (SWIM §4.2)', () => {
  it('alive needs a strictly higher incarnation, over any state', () => {
    expect(aliveOverrides(3, { incarnation: 3, state: 'alive' })).toBe(false);
    expect(aliveOverrides(3, { incarnation: 3, state: 'suspect' })).toBe(false);
    expect(aliveOverrides(4, { incarnation: 3, state: 'suspect' })).toBe(true);
    expect(aliveOverrides(3, { incarnation: 3, state: 'dead' })).toBe(false);
    expect(aliveOverrides(4, { incarnation: 3, state: 'dead' })).toBe(true);
  });

  it('suspect overrides alive at the same incarnation, never dead', () => {
    expect(suspectOverrides(3, { incarnation: 3, state: 'alive' })).toBe(true);
    expect(suspectOverrides(2, { incarnation: 3, state: 'alive' })).toBe(false);
    expect(suspectOverrides(3, { incarnation: 3, state: 'suspect' })).toBe(false);
    expect(suspectOverrides(9, { incarnation: 3, state: 'dead' })).toBe(false);
  });

  it('dead overrides alive and suspect at the same or higher incarnation', () => {
    expect(deadOverrides(3, { incarnation: 3, state: 'alive' })).toBe(true);
    expect(deadOverrides(3, { incarnation: 3, state: 'suspect' })).toBe(true);
    expect(deadOverrides(2, { incarnation: 3, state: 'alive' })).toBe(false);
    expect(deadOverrides(5, { incarnation: 3, state: 'left' })).toBe(false);
  });

  it('a refutation outbids the accusation and our own incarnation', () => {
    expect(refutingIncarnation(2, 5)).toBe(6);
    expect(refutingIncarnation(7, 5)).toBe(8);
  });
});

describe('Lifeguard suspicion timeout arithmetic (Lifeguard §4.2)', () => {
  it('min is suspicionMult × max(1, log10 N) × probe interval: 8 s at N=100, LAN', () => {
    expect(suspicionMinMs(4, 100, 1000)).toBe(8000);
    expect(suspicionMinMs(4, 5, 1000)).toBe(4000);
    expect(suspicionMinMs(4, 1000, 1000)).toBe(12000);
  });

  it('falls from max (48 s) to min (8 s) as k = 2 confirmations arrive', () => {
    const min = 8000;
    const max = 6 * min;
    expect(suspicionTimeout(0, 2, min, max)).toBe(48000);
    // max − (max − min)·log(2)/log(3) = 48000 − 25237.2, floored: 22762
    expect(suspicionTimeout(1, 2, min, max)).toBe(22762);
    expect(suspicionTimeout(2, 2, min, max)).toBe(8000);
    expect(suspicionTimeout(5, 2, min, max)).toBe(8000);
    expect(suspicionTimeout(0, 0, min, max)).toBe(8000);
  });

  it('a Suspicion fires at max alone, sooner with confirmations, and never twice', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    const s = new Suspicion('a', 2, 8000, 48000, clock, () => fired.push(clock.monotonic()));
    clock.advance(5000);
    expect(s.confirm('a')).toBe(false);
    expect(s.confirm('b')).toBe(true);
    clock.advance(10_000);
    expect(fired).toEqual([]);
    expect(s.confirm('c')).toBe(true);
    // Already past the 8 s minimum: fires at once.
    clock.advance(0);
    expect(fired).toEqual([15000]);
    expect(s.confirm('d')).toBe(false);
    clock.advance(60_000);
    expect(fired).toEqual([15000]);
  });

  it('reports how late it fired (a stalled loop)', () => {
    const clock = new ManualClock();
    let late = -1;
    new Suspicion('a', 0, 1000, 1000, clock, (_c, l) => (late = l));
    clock.advance(1000);
    expect(late).toBe(0);
  });
});

describe('local health (awareness)', () => {
  it('multiplies timeouts by score+1 within 0..max-1', () => {
    const a = new Awareness(8);
    expect(a.scale(500)).toBe(500);
    a.applyDelta(3);
    expect(a.scale(500)).toBe(2000);
    a.applyDelta(100);
    expect(a.healthScore).toBe(7);
    a.applyDelta(-100);
    expect(a.healthScore).toBe(0);
  });
});

describe('broadcast queue', () => {
  it('retransmit limit is mult × ⌈log10(N+1)⌉', () => {
    expect(retransmitLimit(4, 9)).toBe(4);
    expect(retransmitLimit(4, 10)).toBe(8);
    expect(retransmitLimit(4, 100)).toBe(12);
    expect(retransmitLimit(4, 1000)).toBe(16);
  });

  it('replaces news about the same member, prefers the least sent, retires at the limit', () => {
    const q = new BroadcastQueue();
    q.queue('a', Buffer.from('a1'));
    q.queue('b', Buffer.from('b1'));
    q.queue('a', Buffer.from('a2'));
    expect(q.length).toBe(2);
    expect(q.take(100, 2, 255, 2).map(String).sort()).toEqual(['a2', 'b1']);
    q.queue('c', Buffer.from('c1'));
    expect(q.take(4, 2, 255, 2).map(String)).toEqual(['c1']);
    expect(q.take(100, 2, 255, 2).map(String).sort()).toEqual(['a2', 'b1', 'c1']);
    expect(q.length).toBe(0);
  });

  it('respects the byte budget and part count', () => {
    const q = new BroadcastQueue();
    for (let i = 0; i < 10; i++) q.queue(`m${i}`, Buffer.alloc(100));
    expect(q.take(350, 2, 255, 5).length).toBe(3);
    expect(q.take(10_000, 2, 4, 5).length).toBe(4);
  });

  it('is bounded', () => {
    const q = new BroadcastQueue(10);
    for (let i = 0; i < 50; i++) q.queue(`m${i}`, Buffer.alloc(1));
    expect(q.length).toBe(10);
  });
});

describe('mesh presets and validation', () => {
  it('presets carry memberlist defaults', () => {
    expect(presets.lan).toMatchObject({ probeIntervalMs: 1000, probeTimeoutMs: 500, gossipIntervalMs: 200, gossipNodes: 3, suspicionMult: 4, suspicionMaxTimeoutMult: 6, retransmitMult: 4, pushPullIntervalMs: 30_000 });
    expect(presets.wan).toMatchObject({ probeIntervalMs: 5000, probeTimeoutMs: 3000, gossipIntervalMs: 500, gossipNodes: 4, suspicionMult: 6 });
    expect(presets.local).toMatchObject({ probeTimeoutMs: 200, indirectChecks: 1, suspicionMult: 3, retransmitMult: 2, pushPullIntervalMs: 15_000 });
    for (const name of ['lan', 'wan', 'local'] as const) expect(() => meshTuning(name)).not.toThrow();
  });

  it('rejects unknown keys, bad values and inconsistent timeouts, naming the key', () => {
    expect(() => meshTuning('lan', { probeInterval: 5 })).toThrow(/"probeInterval".*FM_ERR_MESH_CONFIG/);
    expect(() => meshTuning('lan', { gossipNodes: 0 })).toThrow(/mesh\.tuning\.gossipNodes: must be an integer from 1/);
    expect(() => meshTuning('lan', { probeTimeoutMs: 2000 })).toThrow(/probeTimeoutMs \(2000\) must be less than/);
    expect(() => meshTuning('lan', { lifeguard: 'yes' })).toThrow(/mesh\.tuning\.lifeguard: must be true or false/);
    expect(() => meshTuning('nope' as 'lan')).toThrow(/unknown mesh preset/);
    const t = meshTuning('lan', { gossipNodes: 5 });
    expect(t.gossipNodes).toBe(5);
    expect(Object.isFrozen(t)).toBe(true);
  });
});
