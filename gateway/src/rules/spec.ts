import type { Severity } from '../alerts/transition.js';

/**
 * Rules are data, declared in the gateway config under `rules:` (no code). This file is the typed,
 * validated form; `schema.ts` turns raw YAML into it. Every duration is in milliseconds here.
 *
 * ```yaml
 * rules:
 *   - { id: boiler-hot, kind: threshold, series: boiler/temperature, high: 80, hysteresis: 2 }
 *   - { id: cold-room,  kind: threshold, series: "*\/temperature", low: 2, hysteresis: 0.5 }
 *   - { id: fast-rise,  kind: rate, series: "*\/temperature", maxRise: 5, per: minute, window: 2m }
 *   - { id: gps-silent, kind: staleness, series: "gps1/*", after: 30s, scope: device }
 *   - { id: temp-upstream, kind: deadband, series: "*\/temperature", band: 0.2, maxInterval: 5m }
 * ```
 */

export type { Severity };

interface RuleCommon {
  /** Stable name: alert state is kept by id across reloads; a topic level of `fm/alerts/…`. */
  id: string;
  /** Series pattern `device/sensor`; either part may be `*` (see gateway/src/series/pattern.ts). */
  series: string;
}

interface AlertingCommon extends RuleCommon {
  /** Carried on every alert. Default `warning`. */
  severity: Severity;
}

/**
 * Raises when a value goes above `high` (or below `low`) and clears only once it is back past the
 * limit by `hysteresis`, so a value hovering at the limit does not flap.
 */
export interface ThresholdRule extends AlertingCommon {
  kind: 'threshold';
  high?: number;
  low?: number;
  /** Same unit as the value; ≥ 0; default 0 (clears as soon as the value is back inside). */
  hysteresis: number;
}

/**
 * Raises when the value changes faster than `maxRise` (or falls faster than `maxFall`) per
 * `per`, measured between the oldest and the newest reading inside the sliding `windowMs`.
 */
export interface RateRule extends AlertingCommon {
  kind: 'rate';
  maxRise?: number;
  maxFall?: number;
  per: 'second' | 'minute';
  /** Sliding window, ms; default 60 000. The rate is only judged once the readings in the
   * window span at least half of it, so two readings 1 ms apart cannot fake a huge slope. */
  windowMs: number;
  /** Rate units; ≥ 0; default 0. Clears once the rate is back under the limit by this much. */
  hysteresis: number;
}

/**
 * Raises when a series (scope `series`) or a whole device (scope `device`: any of its series
 * matching the pattern) has been silent for `afterMs` of gateway time; clears on the next reading.
 * A pattern naming one exact series starts watching at start-up, so a series that never arrives
 * is reported too; wildcard patterns start watching a series at its first reading.
 */
export interface StalenessRule extends AlertingCommon {
  kind: 'staleness';
  afterMs: number;
  scope: 'series' | 'device';
}

/**
 * Report-on-change filter for what goes upstream at full rate: a reading is forwarded when it
 * differs from the last forwarded value of its series by at least `band` (0 = any change), or
 * when `maxIntervalMs` passed since the last forwarded one (a heartbeat; 0 = never), otherwise held.
 * Held readings stay in the local log, rollups and rules: only the upstream decision changes.
 */
export interface DeadbandRule extends RuleCommon {
  kind: 'deadband';
  band: number;
  maxIntervalMs: number;
}

export type AlertingRule = ThresholdRule | RateRule | StalenessRule;
export type RuleSpec = AlertingRule | DeadbandRule;
export type RuleKind = RuleSpec['kind'];
