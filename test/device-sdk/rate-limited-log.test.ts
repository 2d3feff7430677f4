import { describe, expect, it } from 'vitest';
import { ManualClock } from '#device-sdk/clock';
import type { Logger } from '#device-sdk/logger';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';

interface Line {
  level: string;
  obj: Record<string, unknown>;
  msg?: string;
}

function recorder(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const logger: Logger = {
    debug: (obj, msg) => void lines.push({ level: 'debug', obj: obj as Record<string, unknown>, msg }),
    info: (obj, msg) => void lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
    warn: (obj, msg) => void lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    error: (obj, msg) => void lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
    child: () => logger,
  };
  return { logger, lines };
}

describe('RateLimitedLog', () => {
  it('writes one line per key per interval and reports the suppressed count on the next line', () => {
    const clock = new ManualClock(0);
    const { logger, lines } = recorder();
    const log = new RateLimitedLog(logger, clock, { intervalMs: 1000 });
    expect(log.warn('a', { x: 1 }, 'first')).toBe(true);
    for (let i = 0; i < 4; i++) expect(log.warn('a', { x: 2 }, 'again')).toBe(false);
    expect(log.warn('b', {}, 'other key')).toBe(true);
    clock.advance(999);
    expect(log.warn('a', {}, 'still inside')).toBe(false);
    clock.advance(1);
    expect(log.error('a', { x: 3 }, 'after the interval')).toBe(true);
    expect(lines).toEqual([
      { level: 'warn', obj: { x: 1, suppressed: 0 }, msg: 'first' },
      { level: 'warn', obj: { suppressed: 0 }, msg: 'other key' },
      { level: 'error', obj: { x: 3, suppressed: 5 }, msg: 'after the interval' },
    ]);
  });

  it('names the count field as asked and can leave a zero count out', () => {
    const clock = new ManualClock(0);
    const { logger, lines } = recorder();
    const log = new RateLimitedLog(logger, clock, { intervalMs: 10, suppressedField: 'n', countZero: false });
    log.info('k', { a: 1 }, 'one');
    log.info('k', { a: 1 }, 'two');
    clock.advance(10);
    log.info('k', { a: 1 }, 'three');
    clock.advance(10);
    log.info('k', { a: 1 }, 'four');
    expect(lines.map((l) => l.obj)).toEqual([{ a: 1 }, { a: 1, n: 1 }, { a: 1 }]);
  });

  it('bounds the keys it remembers, forgetting the one that logged longest ago', () => {
    const clock = new ManualClock(0);
    const { logger, lines } = recorder();
    const log = new RateLimitedLog(logger, clock, { intervalMs: 1000, maxKeys: 2 });
    log.warn('a', {}, 'a');
    log.warn('b', {}, 'b');
    log.warn('c', {}, 'c'); // forgets a
    expect(log.warn('b', {}, 'b again')).toBe(false);
    expect(log.warn('a', {}, 'a again')).toBe(true); // a was forgotten, so it logs at once
    expect(lines.map((l) => l.msg)).toEqual(['a', 'b', 'c', 'a again']);
  });

  it('rejects a nonsense configuration at construction', () => {
    const { logger } = recorder();
    expect(() => new RateLimitedLog(logger, new ManualClock(0), { intervalMs: -1 })).toThrow(/intervalMs/);
    expect(() => new RateLimitedLog(logger, new ManualClock(0), { maxKeys: 0 })).toThrow(/maxKeys/);
  });
});
