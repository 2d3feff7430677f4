import type { Clock } from '@fieldmesh/device-sdk/clock';
import type { Reading } from '@fieldmesh/device-sdk/reading';
import type { DeadlineWheel } from './deadline-wheel.js';
import type { SeriesPattern } from './pattern.js';
import type { AlertingRule } from './spec.js';
import type { ActiveCondition, RuleTransition, TransitionSink } from './transition.js';

/** What an alerting rule needs from the engine. */
export interface EvaluatorContext {
  emit: TransitionSink;
  clock: Clock;
  wheel: DeadlineWheel;
}

/** One alerting rule, compiled, with its per-series state. */
export interface RuleEvaluator {
  readonly spec: AlertingRule;
  readonly pattern: SeriesPattern;
  /** `numeric` is the value as a number (booleans as 1/0), or null when it has none. */
  onReading(r: Reading, numeric: number | null): void;
  /** Takes over the state of the rule with the same id and kind from before a reload. */
  adopt(previous: RuleEvaluator): void;
  active(): ActiveCondition[];
  /** Marks a condition active without emitting (state restored from the alert store). */
  restore(c: ActiveCondition): void;
  /** The rule is gone: emits `cleared` for every active condition and cancels timers. */
  dispose(reason: string): void;
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
