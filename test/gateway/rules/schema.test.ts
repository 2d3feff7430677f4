import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '#device-sdk/clock';
import { DeadlineWheel } from '#gateway/rules/deadline-wheel';
import { compilePattern, type SeriesPattern } from '#gateway/series/pattern';
import { parseDuration, validateRules } from '#gateway/rules/schema';

function code(f: () => unknown): { code: string; key: string } {
  try {
    f();
  } catch (e) {
    const err = e as { code: string; key: string; message: string };
    expect(err.message).toContain(err.key);
    return { code: err.code, key: err.key };
  }
  throw new Error('did not throw');
}

describe('rule validation', () => {
  it('accepts the documented forms and fills defaults', () => {
    const rules = validateRules([
      { id: 'hot', kind: 'threshold', series: 'boiler/temperature', high: 80, hysteresis: 2, severity: 'critical' },
      { id: 'rise', kind: 'rate', series: '*/temperature', maxRise: 5, window: '2m' },
      { id: 'gps', kind: 'staleness', series: 'gps1/*', after: '30s', scope: 'device' },
      { id: 'db', kind: 'deadband', series: '*/*', band: 0.2, maxInterval: '5m' },
    ]);
    expect(rules).toEqual([
      { id: 'hot', kind: 'threshold', series: 'boiler/temperature', severity: 'critical', high: 80, hysteresis: 2 },
      { id: 'rise', kind: 'rate', series: '*/temperature', severity: 'warning', maxRise: 5, per: 'minute', windowMs: 120_000, hysteresis: 0 },
      { id: 'gps', kind: 'staleness', series: 'gps1/*', severity: 'warning', afterMs: 30_000, scope: 'device' },
      { id: 'db', kind: 'deadband', series: '*/*', band: 0.2, maxIntervalMs: 300_000 },
    ]);
    expect(Object.isFrozen(rules) && Object.isFrozen(rules[0])).toBe(true);
    expect(validateRules(undefined)).toEqual([]);
  });

  it.each([
    [{}, 'FM_ERR_RULE_NOT_A_LIST', 'rules'],
    [[7], 'FM_ERR_RULE_NOT_AN_OBJECT', 'rules[0]'],
    [[{ kind: 'threshold', series: 'a/b', high: 1 }], 'FM_ERR_RULE_MISSING_KEY', 'rules[0].id'],
    [[{ id: 'a b', kind: 'threshold', series: 'a/b', high: 1 }], 'FM_ERR_RULE_BAD_ID', 'rules[0].id'],
    [[{ id: 'a', kind: 'magic', series: 'a/b' }], 'FM_ERR_RULE_BAD_KIND', 'rules[0].kind'],
    [[{ id: 'a', kind: 'threshold', series: 'a/b', high: 1, hi: 2 }], 'FM_ERR_RULE_UNKNOWN_KEY', 'rules[0].hi'],
    [[{ id: 'a', kind: 'threshold', series: 'a', high: 1 }], 'FM_ERR_RULE_BAD_PATTERN', 'rules[0].series'],
    [[{ id: 'a', kind: 'threshold', series: 'a/b#', high: 1 }], 'FM_ERR_RULE_BAD_PATTERN', 'rules[0].series'],
    [[{ id: 'a', kind: 'threshold', series: 'a/b', high: '80' }], 'FM_ERR_RULE_BAD_NUMBER', 'rules[0].high'],
    [[{ id: 'a', kind: 'threshold', series: 'a/b', high: 1, hysteresis: -1 }], 'FM_ERR_RULE_BAD_NUMBER', 'rules[0].hysteresis'],
    [[{ id: 'a', kind: 'threshold', series: 'a/b', high: 10, low: 9, hysteresis: 1 }], 'FM_ERR_RULE_BAD_NUMBER', 'rules[0].low'],
    [[{ id: 'a', kind: 'threshold', series: 'a/b' }], 'FM_ERR_RULE_NO_LIMIT', 'rules[0]'],
    [[{ id: 'a', kind: 'rate', series: 'a/b', maxRise: 1, per: 'hour' }], 'FM_ERR_RULE_BAD_VALUE', 'rules[0].per'],
    [[{ id: 'a', kind: 'staleness', series: 'a/b' }], 'FM_ERR_RULE_MISSING_KEY', 'rules[0].after'],
    [[{ id: 'a', kind: 'staleness', series: 'a/b', after: '10 minutes' }], 'FM_ERR_RULE_BAD_DURATION', 'rules[0].after'],
    [[{ id: 'a', kind: 'staleness', series: 'a/b', after: 0 }], 'FM_ERR_RULE_BAD_DURATION', 'rules[0].after'],
    [
      [
        { id: 'a', kind: 'deadband', series: 'a/b' },
        { id: 'a', kind: 'deadband', series: 'a/c' },
      ],
      'FM_ERR_RULE_DUPLICATE_ID',
      'rules[1].id',
    ],
  ])('refuses %j with %s at %s', (raw, c, key) => {
    expect(code(() => validateRules(raw))).toEqual({ code: c, key });
  });

  it('parses durations', () => {
    expect([parseDuration('500ms', 'k'), parseDuration('1.5s', 'k'), parseDuration('2h', 'k'), parseDuration(42, 'k')]).toEqual([
      500, 1500, 7_200_000, 42,
    ]);
  });
});

describe('series patterns', () => {
  const p = (t: string) => compilePattern(t) as SeriesPattern;
  it.each([
    ['boiler/temp', 'boiler/temp', true],
    ['boiler/temp', 'boiler/temp2', false],
    ['boiler/*', 'boiler/a/b', true],
    ['boiler/*', 'boile/a', false],
    ['*/temp', 'x/temp', true],
    ['*/temp', 'x/a/temp', false],
    ['*/*', 'x/y', true],
    ['rack/*/t', 'rack/3/t', true],
    ['rack/*/t', 'rack/3/u', false],
    ['rack/*/t', 'rack/3/4/t', false],
  ])('%s matches %s: %s', (pattern, series, want) => {
    expect(p(pattern).matches(series)).toBe(want);
  });
  it('fast paths agree with level-by-level matching (property)', () => {
    const level = fc.constantFrom('a', 'b', 'temp', 'x.y', '*');
    const name = fc.constantFrom('a', 'b', 'temp', 'x.y');
    fc.assert(
      fc.property(fc.array(level, { minLength: 1, maxLength: 3 }), fc.array(name, { minLength: 2, maxLength: 4 }), (pat, ser) => {
        const text = pat.length === 1 ? `${pat[0]}/*` : pat.join('/');
        const compiled = compilePattern(text);
        if (typeof compiled === 'string') return;
        const series = ser.join('/');
        const [pd, ...ps] = text.split('/');
        const [sd, ...ss] = ser;
        const want = (pd === '*' || pd === sd) && (ps.join('/') === '*' || (ps.length === ss.length && ps.every((l, i) => l === '*' || l === ss[i])));
        expect(compiled.matches(series)).toBe(want);
      }),
      { numRuns: 2000 },
    );
  });

  it('knows exact patterns and their device', () => {
    expect(p('a/b')).toMatchObject({ exact: true, device: 'a' });
    expect(p('a/*')).toMatchObject({ exact: false, device: 'a' });
    expect(p('*/b').device).toBeUndefined();
    expect(typeof compilePattern('/b')).toBe('string');
    expect(typeof compilePattern('a/')).toBe('string');
  });
});

describe('deadline wheel', () => {
  it('fires each entry once, in deadline order, never early, and moves entries in O(1)', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    type E = { name: string; slot: number; deadline: number };
    const wheel = new DeadlineWheel<E>(clock, (e) => fired.push(`${e.name}@${clock.monotonic()}`), 100);
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((name) => ({ name, slot: -1, deadline: 0 }));
    wheel.schedule(b!, 250);
    wheel.schedule(a!, 120);
    wheel.schedule(c!, 1000);
    wheel.schedule(c!, 50); // moved earlier
    wheel.schedule(d!, 300);
    expect(wheel.size).toBe(4);
    wheel.cancel(d!);
    clock.advance(2000);
    expect(fired).toEqual(['c@100', 'a@200', 'b@300']);
    expect(wheel.size).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });
});
