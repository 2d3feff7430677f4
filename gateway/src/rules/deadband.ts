import type { Reading, ReadingValue } from '@fieldmesh/device-sdk/reading';
import type { SeriesPattern } from './pattern.js';
import type { DeadbandRule } from './spec.js';

interface Forwarded {
  value: ReadingValue;
  ts: number;
}

/**
 * Report-on-change / deadband: decides whether a reading goes upstream at full rate. The reference
 * is the last value actually forwarded for the series (not the last seen), so a slow drift still
 * gets forwarded once it adds up to `band`. Times are reading times, so the decision replays the
 * same way from the log. Non-numeric values are forwarded when they change.
 */
export class DeadbandFilter {
  private last = new Map<string, Forwarded>();

  constructor(
    readonly spec: DeadbandRule,
    readonly pattern: SeriesPattern,
  ) {}

  wants(r: Reading, numeric: number | null): boolean {
    const prev = this.last.get(r.series);
    if (!prev) return true;
    if (this.spec.maxIntervalMs > 0 && r.ts - prev.ts >= this.spec.maxIntervalMs) return true;
    if (numeric !== null && typeof prev.value !== 'string') {
      const before = typeof prev.value === 'boolean' ? (prev.value ? 1 : 0) : prev.value;
      const delta = Math.abs(numeric - before);
      return this.spec.band === 0 ? delta > 0 : delta >= this.spec.band;
    }
    return r.value !== prev.value;
  }

  /** Called for every matching reading that was forwarded (by this filter or another). */
  forwarded(r: Reading): void {
    this.last.set(r.series, { value: r.value, ts: r.ts });
  }

  adopt(previous: DeadbandFilter): void {
    for (const [series, f] of previous.last) if (this.pattern.matches(series)) this.last.set(series, f);
  }
}
