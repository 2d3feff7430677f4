import { describe, expect, it } from 'vitest';
import { ManualClock } from '#device-sdk/clock';
import type { Logger } from '#device-sdk/logger';
import { RulesEngine } from '#gateway/rules/engine';

describe('a failing alert sink is logged rate-limited', () => {
  it('one line per 10 s whatever the failure rate, and the next line says how many were suppressed', () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger: Logger = { debug() {}, info() {}, warn() {}, error: (o) => lines.push(o as Record<string, unknown>), child: () => logger };
    const clock = new ManualClock();
    const engine = new RulesEngine({
      rules: [{ id: 'hot', kind: 'threshold', series: 'x/y', high: 1 }],
      clock,
      logger,
      onTransition: () => {
        throw new Error('sink down');
      },
    });
    // Each crossing raises (value 5) or clears (value 0): 20 transitions, all failing.
    for (let i = 0; i < 20; i++) engine.evaluate({ series: 'x/y', ts: i + 1, value: i % 2 === 0 ? 5 : 0 });
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatchObject({ ruleId: 'hot', failures: 1 });
    clock.advance(9_999);
    engine.evaluate({ series: 'x/y', ts: 100, value: 5 });
    expect(lines.length).toBe(1);
    clock.advance(1);
    engine.evaluate({ series: 'x/y', ts: 101, value: 0 });
    expect(lines.length).toBe(2);
    expect(lines[1]).toMatchObject({ failures: 22, suppressed: 20 });
  });
});
