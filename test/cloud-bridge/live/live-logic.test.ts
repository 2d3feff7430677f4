import { describe, expect, it } from 'vitest';
import { LiveError } from '#cloud-bridge/live/errors';
import { LiveMatcher, MATCH_ALL, parseLiveFilter } from '#cloud-bridge/live/live-filter';
import { LiveSubscriber, CLOSE_TOO_SLOW, type LiveChannel } from '#cloud-bridge/live/live-subscriber';
import type { LiveEvent, LiveMessage } from '#cloud-bridge/live/live-event';

const matcher = (q: string) => new LiveMatcher(parseLiveFilter(new URLSearchParams(q)));

describe('live filter', () => {
  it('matches gateways and series by glob: * within one level, ** across levels', () => {
    const m = matcher('gateway=gw-*,site2.**&series=*/temp,boiler/*');
    expect(['gw-a', 'gw-b', 'site2.x.y'].map((g) => m.gateway(g))).toEqual([true, true, true]);
    expect(['gwa', 'xgw-a', 'site3.x'].map((g) => m.gateway(g))).toEqual([false, false, false]);
    expect(['dev1/temp', 'boiler/pressure', 'boiler/temp'].map((s) => m.seriesName(s))).toEqual([true, true, true]);
    expect(['dev1/hum', 'dev1/temp2', 'a/b/temp'].map((s) => m.seriesName(s))).toEqual([false, false, false]);
    // A dot is literal, not "any character".
    expect(matcher('gateway=a.b').gateway('axb')).toBe(false);
    const all = new LiveMatcher(MATCH_ALL);
    expect(all.gateway('anything') && all.seriesName('x/y') && all.wants('alerts')).toBe(true);
  });

  it('selects kinds and refuses hostile or malformed filters with a coded error', () => {
    expect(matcher('kinds=status').wants('readings')).toBe(false);
    expect(matcher('kinds=status').wants('status')).toBe(true);
    for (const bad of ['gateway=a%20b', 'series=(.*)', 'kinds=everything', `series=${'a,'.repeat(40)}`, `gateway=${'a'.repeat(201)}`, 'series=a+b']) {
      let err: unknown;
      try {
        parseLiveFilter(new URLSearchParams(bad));
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(LiveError);
      expect((err as LiveError).code).toBe('FM_ERR_LIVE_FILTER');
    }
  });
});

/** A connection whose kernel never takes anything once `stalled`. */
class RecordingChannel implements LiveChannel {
  sent: LiveMessage[] = [];
  bufferedAmount = 0;
  stalled = false;
  closedWith: number | null = null;
  send(text: string): void {
    if (this.stalled) this.bufferedAmount += Buffer.byteLength(text);
    else this.sent.push(JSON.parse(text) as LiveMessage);
  }
  cutOff(code: number): void {
    this.closedWith = code;
  }
}

const readings = (gateway: string, from: number, n: number, seriesCount = 1): LiveEvent => ({
  type: 'readings',
  gateway,
  readings: Array.from({ length: n }, (_, i) => ({ series: `dev${(from + i) % seriesCount}/temp`, ts: from + i, value: from + i })),
});

describe('live subscriber backlog', () => {
  const limits = { softBytes: 10_000, maxPendingSeries: 50, maxPendingAlerts: 3, stallMs: 5000 };

  it('sends straight through while the connection keeps up', () => {
    const ch = new RecordingChannel();
    const s = new LiveSubscriber(new LiveMatcher(MATCH_ALL), ch, limits, () => 0);
    s.deliver(readings('gw', 0, 5));
    s.deliver({ type: 'status', gateway: 'gw', online: true, at: 1 });
    expect(ch.sent.map((m) => m.type)).toEqual(['readings', 'status']);
    expect(s.stats).toMatchObject({ readingsSent: 5, readingsSampled: 0, cutOff: false });
  });

  it('samples a slow subscriber to the newest value per series, bounded, and flushes alerts first', () => {
    const ch = new RecordingChannel();
    let now = 0;
    const s = new LiveSubscriber(new LiveMatcher(MATCH_ALL), ch, limits, () => now);
    ch.bufferedAmount = 20_000; // behind
    for (let b = 0; b < 100; b++) s.deliver(readings('gw', b * 100, 100, 80));
    for (let a = 0; a < 5; a++) s.deliver({ type: 'alert', gateway: 'gw', alert: { seq: a } });
    s.deliver({ type: 'status', gateway: 'gw', online: true, at: 1 });
    s.deliver({ type: 'status', gateway: 'gw', online: false, at: 2 });
    expect(ch.sent).toEqual([]);
    // Held: at most maxPendingSeries readings, maxPendingAlerts alerts, one status per gateway.
    expect(s.stats.readingsSampled).toBe(10_000 - 50);
    expect(s.stats.alertsDropped).toBe(2);
    now = 1000;
    s.tick(now);
    expect(ch.sent).toEqual([]); // still behind: keep holding
    ch.bufferedAmount = 0;
    s.tick(2000);
    expect(ch.sent.map((m) => m.type)).toEqual(['alert', 'alert', 'alert', 'status', 'readings', 'sampled']);
    expect(ch.sent.slice(0, 3).map((m) => (m as unknown as { alert: { seq: number } }).alert.seq)).toEqual([2, 3, 4]);
    expect(ch.sent[3]).toMatchObject({ online: false, at: 2 });
    const held = ch.sent[4] as Extract<LiveMessage, { type: 'readings' }>;
    expect(held.readings).toHaveLength(50);
    // Newest value of each series kept: series dev7/temp last saw ts 9927 (9927 % 80 = 7).
    expect(held.readings.find((r) => r.series === 'dev7/temp')?.ts).toBe(9927);
    expect(ch.sent[5]).toEqual({ type: 'sampled', dropped: 10_000 - 50 });
    // Caught up: straight through again.
    s.deliver(readings('gw', 0, 1));
    expect(ch.sent).toHaveLength(7);
  });

  it('cuts off a subscriber that stays behind for stallMs, then ignores it', () => {
    const ch = new RecordingChannel();
    let now = 0;
    let cut = 0;
    const s = new LiveSubscriber(new LiveMatcher(MATCH_ALL), ch, limits, () => now, () => cut++);
    ch.stalled = true;
    for (let b = 0; b < 10; b++) s.deliver(readings('gw', b * 100, 100));
    const buffered = ch.bufferedAmount;
    expect(buffered).toBeLessThan(limits.softBytes + 10_000); // at most one message past the limit
    for (now = 0; now < 4900; now += 100) s.tick(now);
    expect(ch.closedWith).toBeNull();
    now = 5100;
    s.tick(now);
    expect(ch.closedWith).toBe(CLOSE_TOO_SLOW);
    expect(cut).toBe(1);
    s.deliver(readings('gw', 0, 100));
    expect(ch.bufferedAmount).toBe(buffered);
  });
});
