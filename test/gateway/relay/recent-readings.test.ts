import { describe, expect, it } from 'vitest';
import { RecentReadings } from '#gateway/relay/recent-readings';

const rs = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ series: 'd/s', ts: 1000 + from + i, value: from + i }));

describe('RecentReadings (the replicator feeds buddies from the commit notices)', () => {
  it('serves readings after a seq across commits, with seqs, in one shape', () => {
    const r = new RecentReadings(100);
    r.add(1, rs(3, 0));
    r.add(4, [{ series: 'd/t', ts: 5, value: 'x', unit: 'C' }]);
    r.add(5, rs(2, 10));
    expect(r.after(2, 10)!.map((x) => x.seq)).toEqual([3, 4, 5, 6]);
    expect(r.after(2, 2)).toEqual([
      { seq: 3, series: 'd/s', ts: 1002, value: 2 },
      { seq: 4, series: 'd/t', ts: 5, value: 'x', unit: 'C' },
    ]);
    expect(r.after(0, 1)![0]!.seq).toBe(1);
    expect(r.after(6, 5)).toBeNull(); // nothing newer held
  });

  it('answers null for what it no longer holds, so the caller reads the log', () => {
    const r = new RecentReadings(4);
    r.add(1, rs(3));
    r.add(4, rs(3));
    expect(r.size).toBe(3); // the older commit went over the bound
    expect(r.after(0, 10)).toBeNull();
    expect(r.after(3, 10)!.map((x) => x.seq)).toEqual([4, 5, 6]);
    r.dropThrough(6);
    expect(r.size).toBe(0);
    expect(r.after(3, 10)).toBeNull();
  });

  it('forgets everything on a gap in seqs (never serves a wrong seq)', () => {
    const r = new RecentReadings(100);
    r.add(1, rs(3));
    r.add(10, rs(2));
    expect(r.after(0, 10)).toBeNull();
    expect(r.after(9, 10)!.map((x) => x.seq)).toEqual([10, 11]);
  });

  it('drops only whole commits at or below the cut', () => {
    const r = new RecentReadings(100);
    r.add(1, rs(3));
    r.add(4, rs(3));
    r.dropThrough(4);
    expect(r.after(3, 10)!.map((x) => x.seq)).toEqual([4, 5, 6]);
    r.dropThrough(2);
    expect(r.size).toBe(3);
  });
  it('holds nothing with a bound of 0: every batch is read back from the log', () => {
    const r = new RecentReadings(0);
    r.add(1, rs(3));
    expect(r.size).toBe(0);
    expect(r.after(0, 10)).toBeNull();
  });
});
