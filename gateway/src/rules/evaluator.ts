import type { Clock, Reading } from '@fieldmesh/device-sdk';
import type { DeadlineWheel } from './deadline-wheel.js';
import type { SeriesPattern } from '../series/pattern.js';
import type { StaleTarget } from './staleness.js';
import type { AlertingRule } from './spec.js';
import type { ActiveCondition, RuleTransition, TransitionSink } from '../alerts/transition.js';

/** What an alerting rule needs from the engine. */
export interface EvaluatorContext {
  emit: TransitionSink;
  clock: Clock;
  /** Monotonic ms read once per evaluated batch (readings of one commit arrive together). */
  arrival: number;
  wheel: DeadlineWheel<StaleTarget>;
}

/**
 * One alerting rule, compiled, with its per-series state. The engine asks `stateFor` once per
 * series (when it builds the series' plan) and passes that state object with every reading, so
 * the hot path does no map lookup per rule.
 */
export interface RuleEvaluator<S = any> {
  readonly spec: AlertingRule;
  readonly pattern: SeriesPattern;
  /** The state object this rule keeps for `series` (created on first use). */
  stateFor(series: string): S;
  /** Takes the value through `numericValue`. (Not passed as a number: a double argument to a
   * polymorphic call is boxed, one allocation per rule per reading.) */
  onReading(r: Reading, state: S): void;
  /** Takes over the state of the rule with the same id and kind from before a reload. */
  adopt(previous: RuleEvaluator): void;
  active(): ActiveCondition[];
  /** Marks a condition active without emitting (state restored from the alert store). */
  restore(c: ActiveCondition): void;
  /** The rule is gone: emits `cleared` for every active condition and cancels timers. */
  dispose(reason: string): void;
}

/** The value as a number (booleans as 1/0), or null for strings and non-finite numbers. */
export function numericValue(r: Reading): number | null {
  const v = r.value;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return null;
}

export function transition(
  spec: AlertingRule,
  type: RuleTransition['type'],
  series: string,
  condition: RuleTransition['condition'],
  value: number | null,
  ts: number,
  reason: string,
): RuleTransition {
  return { type, ruleId: spec.id, series, severity: spec.severity, condition, value, ts, reason };
}
