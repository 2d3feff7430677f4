import type { Reading, ReadingValue } from '@fieldmesh/device-sdk';
import { numericValue } from './evaluator.js';
import type { SeriesPattern } from '../series/pattern.js';
import type { DeadbandRule } from './spec.js';

/** The last reading of a series that was forwarded upstream; shared by every filter on it. */
export interface Forwarded {
  value: ReadingValue;
  ts: number;
}

/**
 * Report-on-change / deadband: decides whether a reading goes upstream at full rate. The reference
 * is the last value actually forwarded for the series (not the last seen), so a slow drift still
 * gets forwarded once it adds up to `band`. Times are reading times, so the decision replays the
 * same way from the log. Non-numeric values are forwarded when they change. The filter itself is
 * stateless: the engine keeps one `Forwarded` per series, which survives reloads.
 */
export class DeadbandFilter {
  private readonly band: number;
  private readonly maxIntervalMs: number;

  constructor(
    readonly spec: DeadbandRule,
    readonly pattern: SeriesPattern,
  ) {
    this.band = spec.band;
    this.maxIntervalMs = spec.maxIntervalMs;
  }

  wants(prev: Forwarded | undefined, r: Reading): boolean {
    if (!prev) return true;
    const numeric = numericValue(r);
    if (this.maxIntervalMs > 0 && r.ts - prev.ts >= this.maxIntervalMs) return true;
    if (numeric !== null && typeof prev.value !== 'string') {
      const before = typeof prev.value === 'boolean' ? (prev.value ? 1 : 0) : prev.value;
      const delta = Math.abs(numeric - before);
      return this.band === 0 ? delta > 0 : delta >= this.band;
    }
    return r.value !== prev.value;
  }
}
