import { describe, expect, it } from 'vitest';
import { ManualClock } from '#device-sdk/clock';
import type { Reading } from '#device-sdk/reading';
import { RulesEngine } from '#gateway/rules/engine';
import type { RuleTransition } from '#gateway/alerts/transition';

function setup(rules: unknown, clock = new ManualClock()) {
  const seen: RuleTransition[] = [];
  const engine = new RulesEngine({ rules, clock, onTransition: (t) => seen.push(t) });
  let ts = clock.now();
  const feed = (series: string, value: Reading['value'], at?: number) => {
    ts = at ?? ts + 1000;
    return engine.evaluate({ series, ts, value });
  };
  const kinds = () => seen.map((t) => `${t.type}:${t.condition}:${t.series}`);
  return { engine, seen, feed, kinds, clock };
}

describe('threshold with hysteresis', () => {
  it('raises above high, stays raised inside the band, clears below high - hysteresis', () => {
    const { feed, kinds, seen } = setup([{ id: 'hot', kind: 'threshold', series: 'boiler/temp', high: 80, hysteresis: 2 }]);
    for (const v of [70, 80, 80.5, 79, 78.5, 78, 77.9, 81, 77.9, 79]) feed('boiler/temp', v);
    expect(kinds()).toEqual(['raised:high:boiler/temp', 'cleared:high:boiler/temp', 'raised:high:boiler/temp', 'cleared:high:boiler/temp']);
    expect(seen.map((t) => t.value)).toEqual([80.5, 77.9, 81, 77.9]);
    expect(seen[0]).toMatchObject({ ruleId: 'hot', severity: 'warning', value: 80.5 });
  });

  it('exact edges: value == high does not raise; value == high - hysteresis does not clear', () => {
    const { feed, kinds } = setup([{ id: 'hot', kind: 'threshold', series: 'a/t', high: 10, hysteresis: 1 }]);
    feed('a/t', 10);
    expect(kinds()).toEqual([]);
    feed('a/t', 10.001);
    feed('a/t', 9);
    expect(kinds()).toEqual(['raised:high:a/t']);
    feed('a/t', 8.999);
    expect(kinds()).toEqual(['raised:high:a/t', 'cleared:high:a/t']);
  });

  it('low side, and a jump from one side to the other clears then raises', () => {
    const { feed, kinds } = setup([{ id: 'band', kind: 'threshold', series: 'a/t', high: 10, low: 0, hysteresis: 1 }]);
    feed('a/t', -1);
    feed('a/t', 0.5);
    feed('a/t', 1.5);
    feed('a/t', 11);
    feed('a/t', -5);
    expect(kinds()).toEqual(['raised:low:a/t', 'cleared:low:a/t', 'raised:high:a/t', 'cleared:high:a/t', 'raised:low:a/t']);
  });

  it('keeps state per series under a wildcard pattern; ignores strings; booleans count as 1/0', () => {
    const { feed, kinds } = setup([
      { id: 'hot', kind: 'threshold', series: '*/temp', high: 50 },
      { id: 'door', kind: 'threshold', series: 'door1/open', high: 0.5 },
    ]);
    feed('a/temp', 60);
    feed('b/temp', 40);
    feed('b/temp', 'sixty');
    feed('b/temp', 61);
    feed('a/temp', 10);
    feed('a/humidity', 99);
    feed('door1/open', true);
    feed('door1/open', false);
    expect(kinds()).toEqual(['raised:high:a/temp', 'raised:high:b/temp', 'cleared:high:a/temp', 'raised:high:door1/open', 'cleared:high:door1/open']);
  });
});

describe('rate of change', () => {
  it('raises when rising faster than maxRise per minute over the window, clears when it slows', () => {
    const clock = new ManualClock();
    const { feed, kinds, seen } = setup([{ id: 'rise', kind: 'rate', series: 'a/t', maxRise: 6, per: 'minute', window: '60s' }], clock);
    let t = clock.now();
    // 1 reading per 10 s; 0.5 per reading = 3/min: fine.
    let v = 20;
    for (let i = 0; i < 10; i++) feed('a/t', (v += 0.5), (t += 10_000));
    expect(kinds()).toEqual([]);
    // 2 per reading = 12/min: over the 60 s window (6 readings) the slope passes 6/min at the 3rd.
    feed('a/t', (v += 2), (t += 10_000));
    feed('a/t', (v += 2), (t += 10_000));
    expect(kinds()).toEqual([]);
    feed('a/t', (v += 2), (t += 10_000));
    expect(kinds()).toEqual(['raised:rise:a/t']);
    expect(seen[0]!.value).toBeCloseTo(7.5);
    for (let i = 0; i < 3; i++) feed('a/t', (v += 2), (t += 10_000));
    expect(kinds()).toHaveLength(1);
    for (let i = 0; i < 6; i++) feed('a/t', v, (t += 10_000));
    expect(kinds()).toEqual(['raised:rise:a/t', 'cleared:rise:a/t']);
  });

  it('judges nothing until the window is half covered, and ignores out-of-order readings', () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    const { engine, feed, kinds } = setup([{ id: 'fall', kind: 'rate', series: 'a/t', maxFall: 1, per: 'second', window: '10s' }], clock);
    feed('a/t', 100, t0);
    feed('a/t', 0, t0 + 1); // -100000/s, but the window holds 1 ms of data
    feed('a/t', 0, t0 + 4000);
    expect(kinds()).toEqual([]);
    feed('a/t', -100, t0 + 3000); // older than the last: ignored
    expect(kinds()).toEqual([]);
    feed('a/t', 0, t0 + 5000); // 5 s span: (0 - 100) / 5 s = -20/s
    expect(kinds()).toEqual(['raised:fall:a/t']);
    expect(engine.stats().transitions).toBe(1);
  });
});

describe('staleness', () => {
  it('raises after T of silence (per series), clears on the next reading, never early', () => {
    const clock = new ManualClock();
    const { feed, kinds, seen } = setup([{ id: 'silent', kind: 'staleness', series: 'gps1/*', after: '30s' }], clock);
    feed('gps1/lat', 1, clock.now());
    feed('gps1/lon', 1, clock.now());
    clock.advance(20_000);
    feed('gps1/lon', 2, clock.now());
    clock.advance(9_000);
    expect(kinds()).toEqual([]);
    clock.advance(1_300); // 30.3 s after lat: due (resolution 250 ms)
    expect(kinds()).toEqual(['raised:stale:gps1/lat']);
    expect(seen[0]).toMatchObject({ value: null, ruleId: 'silent' });
    expect(seen[0]!.ts).toBeGreaterThanOrEqual(clock.now() - 300);
    clock.advance(19_000);
    expect(kinds()).toEqual(['raised:stale:gps1/lat']);
    clock.advance(1_000);
    expect(kinds()).toEqual(['raised:stale:gps1/lat', 'raised:stale:gps1/lon']);
    feed('gps1/lat', 3, clock.now());
    expect(kinds()).toEqual(['raised:stale:gps1/lat', 'raised:stale:gps1/lon', 'cleared:stale:gps1/lat']);
    clock.advance(5 * 60_000); // raised once, not every 30 s
    expect(kinds().filter((k) => k === 'raised:stale:gps1/lon')).toHaveLength(1);
  });

  it('device scope: any series keeps the device alive; an exact device is watched from start', () => {
    const clock = new ManualClock();
    const { feed, kinds } = setup([{ id: 'dev', kind: 'staleness', series: 'pump/*', after: 10_000, scope: 'device' }], clock);
    clock.advance(10_500);
    expect(kinds()).toEqual(['raised:stale:pump/*']);
    feed('pump/a', 1, clock.now());
    clock.advance(6000);
    feed('pump/b', 1, clock.now());
    clock.advance(6000);
    expect(kinds()).toEqual(['raised:stale:pump/*', 'cleared:stale:pump/*']);
    clock.advance(5000);
    expect(kinds()).toEqual(['raised:stale:pump/*', 'cleared:stale:pump/*', 'raised:stale:pump/*']);
  });

  it('an exact series that never arrives is reported', () => {
    const clock = new ManualClock();
    const { kinds } = setup([{ id: 'x', kind: 'staleness', series: 'well/level', after: '1m' }], clock);
    clock.advance(59_000);
    expect(kinds()).toEqual([]);
    clock.advance(1_250);
    expect(kinds()).toEqual(['raised:stale:well/level']);
  });

  it('holds one clock timer however many series are watched', () => {
    const clock = new ManualClock();
    const { feed, engine } = setup([{ id: 's', kind: 'staleness', series: '*/*', after: '1m' }], clock);
    for (let i = 0; i < 5000; i++) feed(`d${i}/v`, i, clock.now());
    expect(engine.stats().watchedDeadlines).toBe(5000);
    expect(clock.pendingTimers()).toBe(1);
  });
});

describe('deadband / report on change', () => {
  it('forwards on a change of at least band from the last forwarded value, and on maxInterval', () => {
    const { feed } = setup([{ id: 'db', kind: 'deadband', series: '*/temp', band: 0.5, maxInterval: '10s' }]);
    const decisions = [20, 20.2, 20.4, 20.5, 20.6, 20.0, 19.9, 19.9, 19.9, 19.9, 19.9, 19.9].map((v) => feed('a/temp', v));
    // 20 fwd; .2 .4 hold; 20.5 fwd (band from 20); 20.6 hold; 20.0 fwd (0.5 from 20.5); 19.9 hold…;
    // readings are 1 s apart, so the 10 s heartbeat forwards the 10th reading after 20.0.
    expect(decisions).toEqual([true, false, false, true, false, true, false, false, false, false, false, false]);
    // 20.0 was forwarded at reading 6; reading 16 is 10 s later.
    expect(feed('b/other', 1)).toBe(true); // 13: no filter applies
    expect(feed('a/temp', 19.9)).toBe(false); // 14
    expect(feed('a/temp', 19.9)).toBe(false); // 15
    expect(feed('a/temp', 19.9)).toBe(true); // 16
    expect(feed('a/temp', 19.9)).toBe(false); // 17
  });

  it('band 0 forwards any change, strings included', () => {
    const { feed } = setup([{ id: 'roc', kind: 'deadband', series: 'door/*', band: 0 }]);
    expect(['open', 'open', 'closed', 'closed', 'open'].map((v) => feed('door/state', v))).toEqual([true, false, true, false, true]);
    expect([1, 1, 2, 2].map((v) => feed('door/n', v))).toEqual([true, false, true, false]);
  });
});

describe('reload', () => {
  it('keeps alert state for rules that still exist, clears removed ones, applies new limits', () => {
    const { engine, feed, kinds } = setup([
      { id: 'hot', kind: 'threshold', series: 'a/t', high: 80, hysteresis: 5 },
      { id: 'gone', kind: 'threshold', series: 'a/t', high: 50 },
    ]);
    feed('a/t', 90);
    expect(kinds()).toEqual(['raised:high:a/t', 'raised:high:a/t']);
    engine.reload([{ id: 'hot', kind: 'threshold', series: 'a/t', high: 85, hysteresis: 1 }]);
    expect(kinds().slice(2)).toEqual(['cleared:high:a/t']); // 'gone' removed
    feed('a/t', 86); // still raised: no second 'raised'
    expect(kinds()).toHaveLength(3);
    feed('a/t', 83.9); // new hysteresis: 85 - 1
    expect(kinds().slice(3)).toEqual(['cleared:high:a/t']);
    expect(engine.stats().reloads).toBe(1);
  });

  it('keeps staleness deadlines across a reload and applies a new `after` from the last reading', () => {
    const clock = new ManualClock();
    const { engine, feed, kinds } = setup([{ id: 's', kind: 'staleness', series: '*/v', after: '60s' }], clock);
    feed('a/v', 1, clock.now());
    clock.advance(20_000);
    engine.reload([{ id: 's', kind: 'staleness', series: '*/v', after: '30s' }]);
    clock.advance(9_000);
    expect(kinds()).toEqual([]);
    clock.advance(1_500);
    expect(kinds()).toEqual(['raised:stale:a/v']);
    engine.reload([{ id: 's', kind: 'staleness', series: '*/v', after: '30s' }]);
    clock.advance(60_000);
    expect(kinds()).toEqual(['raised:stale:a/v']);
    feed('a/v', 1, clock.now());
    expect(kinds()).toEqual(['raised:stale:a/v', 'cleared:stale:a/v']);
  });

  it('a rule that changes kind or stops covering a series clears what it raised', () => {
    const { engine, feed, kinds, seen } = setup([
      { id: 'x', kind: 'threshold', series: 'a/t', high: 1 },
      { id: 'y', kind: 'threshold', series: '*/t', high: 1 },
    ]);
    feed('a/t', 5);
    feed('b/t', 5);
    expect(kinds()).toEqual(['raised:high:a/t', 'raised:high:a/t', 'raised:high:b/t']);
    engine.reload([
      { id: 'x', kind: 'staleness', series: 'a/t', after: '1h' },
      { id: 'y', kind: 'threshold', series: 'b/t', high: 1 },
    ]);
    expect(seen.slice(3).map((t) => `${t.type}:${t.ruleId}:${t.series}:${t.reason}`)).toEqual([
      'cleared:x:a/t:rule changed kind',
      'cleared:y:a/t:series no longer covered by the rule',
    ]);
    expect(engine.active()).toEqual([{ ruleId: 'y', series: 'b/t', condition: 'high' }]);
  });

  it('rate: a fall faster than maxFall raises, hysteresis delays the clear', () => {
    const clock = new ManualClock();
    let t = clock.now();
    const { feed, kinds } = setup([{ id: 'drop', kind: 'rate', series: 'p/bar', maxFall: 10, per: 'second', window: '4s', hysteresis: 5 }], clock);
    for (const v of [100, 100, 100]) feed('p/bar', v, (t += 1000));
    feed('p/bar', 70, (t += 1000)); // (70 - 100) / 3 s = -10/s: not faster than 10
    expect(kinds()).toEqual([]);
    feed('p/bar', 40, (t += 1000)); // (40 - 100) / 4 s = -15/s
    expect(kinds()).toEqual(['raised:fall:p/bar']);
    feed('p/bar', 68, (t += 1000)); // (68 - 100) / 4 s = -8/s: under 10, not under 10 - 5
    feed('p/bar', 68, (t += 1000)); // still -8/s against the reading 4 s back
    expect(kinds()).toEqual(['raised:fall:p/bar']);
    feed('p/bar', 68, (t += 1000)); // (68 - 70) / 4 s = -0.5/s
    expect(kinds()).toEqual(['raised:fall:p/bar', 'cleared:fall:p/bar']);
  });

  it('an invalid reload throws a coded error and keeps the old rules', () => {
    const { engine, feed, kinds } = setup([{ id: 'hot', kind: 'threshold', series: 'a/t', high: 1 }]);
    expect(() => engine.reload([{ id: 'hot', kind: 'threshold', series: 'a/t' }])).toThrow(expect.objectContaining({ code: 'FM_ERR_RULE_NO_LIMIT' }));
    feed('a/t', 2);
    expect(kinds()).toEqual(['raised:high:a/t']);
  });

  it('restores active conditions (from the alert store) without emitting', () => {
    const { engine, feed, kinds } = setup([{ id: 'hot', kind: 'threshold', series: 'a/t', high: 80 }]);
    engine.restore([{ ruleId: 'hot', series: 'a/t', condition: 'high' }]);
    expect(engine.active()).toEqual([{ ruleId: 'hot', series: 'a/t', condition: 'high' }]);
    feed('a/t', 90);
    expect(kinds()).toEqual([]);
    feed('a/t', 10);
    expect(kinds()).toEqual(['cleared:high:a/t']);
  });
});

describe('indexing', () => {
  it('evaluates only the rules that match a series, whatever the number of rules', () => {
    const rules = Array.from({ length: 1000 }, (_, i) => ({ id: `r${i}`, kind: 'threshold', series: `dev${i}/temp`, high: 50 }));
    rules.push({ id: 'all', kind: 'threshold', series: '*/temp', high: 1000 });
    const { engine, feed, kinds } = setup(rules);
    feed('dev7/temp', 60);
    feed('dev8/temp', 40);
    expect(kinds()).toEqual(['raised:high:dev7/temp']);
    expect(engine.stats().cachedSeries).toBe(2);
  });

  it('a sink that throws does not stop evaluation', () => {
    let calls = 0;
    const engine = new RulesEngine({
      rules: [
        { id: 'a', kind: 'threshold', series: 'x/y', high: 1 },
        { id: 'b', kind: 'threshold', series: 'x/y', high: 2 },
      ],
      clock: new ManualClock(),
      onTransition: () => {
        calls++;
        throw new Error('boom');
      },
    });
    expect(engine.evaluate({ series: 'x/y', ts: 1, value: 5 })).toBe(true);
    expect(calls).toBe(2);
  });
});
