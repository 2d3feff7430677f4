import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pickBuddies } from '#gateway/relay/buddies';
import { SqliteReplicaStore } from '#gateway/relay/replica-store';
import { tempDir } from '../../cloud-bridge/cloud-fixture.js';

describe('rendezvous buddy choice', () => {
  const members = Array.from({ length: 20 }, (_, i) => `gw-${i}`);

  it('never picks the origin, is independent of list order, and takes k', () => {
    const a = pickBuddies('gw-3', members, 2);
    expect(a).toHaveLength(2);
    expect(a).not.toContain('gw-3');
    expect(pickBuddies('gw-3', [...members].reverse(), 2)).toEqual(a);
    expect(pickBuddies('gw-3', ['gw-3'], 1)).toEqual([]);
  });

  it('is stable: removing a member moves only the origins that had picked it', () => {
    const before = new Map(members.map((o) => [o, pickBuddies(o, members, 1)[0]!]));
    const gone = 'gw-7';
    const rest = members.filter((m) => m !== gone);
    for (const o of rest) {
      const after = pickBuddies(o, rest, 1)[0]!;
      if (before.get(o) !== gone) expect(after).toBe(before.get(o));
    }
  });

  it('spreads origins over members (no member buddy to more than a quarter of 200 origins over 20)', () => {
    const load = new Map<string, number>();
    const origins = Array.from({ length: 200 }, (_, i) => `origin-${i}`);
    for (const o of origins) for (const b of pickBuddies(o, members, 1)) load.set(b, (load.get(b) ?? 0) + 1);
    expect(Math.max(...load.values())).toBeLessThan(50);
    expect(load.size).toBeGreaterThan(15);
  });
});

describe('SQLite replica store (real file)', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  function open() {
    const t = tempDir('fm-replicas-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'replicas.db');
    return { file, store: new SqliteReplicaStore(file) };
  }

  it('keeps a contiguous replica, refuses gaps and duplicates, trims at the watermark, survives reopen', () => {
    const { file, store } = open();
    expect(store.open('gw-a', 'e1', 0)).toBe(0);
    expect(store.put('gw-a', 'e1', 1, 10, Buffer.from('b1'))).toBe(10);
    expect(store.put('gw-a', 'e1', 1, 10, Buffer.from('b1'))).toBe(10); // duplicate
    expect(store.put('gw-a', 'e1', 15, 20, Buffer.from('gap'))).toBe(10); // gap: not stored
    expect(store.put('gw-a', 'e1', 11, 20, Buffer.from('b2'))).toBe(20);
    expect(store.batches('gw-a', 'e1', 10).map((b) => [b.firstSeq, b.lastSeq])).toEqual([
      [1, 10],
      [11, 20],
    ]);
    store.trim('gw-a', 'e1', 10);
    expect(store.batches('gw-a', 'e1', 10).map((b) => b.firstSeq)).toEqual([11]);
    store.close();
    const again = new SqliteReplicaStore(file);
    cleanups.unshift(() => again.close());
    // The origin resumes after what is held; a watermark above it moves the resume point.
    expect(again.open('gw-a', 'e1', 5)).toBe(20);
    expect(again.open('gw-a', 'e1', 30)).toBe(30);
    expect(again.origins()).toEqual([{ origin: 'gw-a', epoch: 'e1', storedSeq: 30, ackedSeq: 30, batches: 0, bytes: 0 }]);
    // A put for an origin never opened is ignored.
    expect(again.put('gw-z', 'e9', 1, 1, Buffer.from('x'))).toBe(0);
  });
});
