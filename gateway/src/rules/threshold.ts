import type { Reading } from '@fieldmesh/device-sdk/reading';
import { transition, type EvaluatorContext, type RuleEvaluator } from './evaluator.js';
import type { SeriesPattern } from './pattern.js';
import type { ThresholdRule } from './spec.js';
import type { ActiveCondition } from './transition.js';

type Side = 'high' | 'low';

/**
 * Threshold with hysteresis. Raised when value > high (or < low); cleared only when
 * value < high − hysteresis (or > low + hysteresis). A jump straight from one side to the other
 * clears the first condition, then raises the second.
 */
export class ThresholdEvaluator implements RuleEvaluator {
  private states = new Map<string, Side>();

  constructor(
    readonly spec: ThresholdRule,
    readonly pattern: SeriesPattern,
    private readonly ctx: EvaluatorContext,
  ) {}

  onReading(r: Reading, v: number | null): void {
    if (v === null) return;
    const { high, low, hysteresis } = this.spec;
    const cur = this.states.get(r.series);
    if (cur === 'high' && (high === undefined || v < high - hysteresis)) {
      this.states.delete(r.series);
      this.emit('cleared', r, 'high', v, high === undefined ? 'high limit removed' : `value ${v} < ${high} - ${hysteresis}`);
    } else if (cur === 'low' && (low === undefined || v > low + hysteresis)) {
      this.states.delete(r.series);
      this.emit('cleared', r, 'low', v, low === undefined ? 'low limit removed' : `value ${v} > ${low} + ${hysteresis}`);
    }
    if (this.states.has(r.series)) return;
    if (high !== undefined && v > high) {
      this.states.set(r.series, 'high');
      this.emit('raised', r, 'high', v, `value ${v} > high ${high}`);
    } else if (low !== undefined && v < low) {
      this.states.set(r.series, 'low');
      this.emit('raised', r, 'low', v, `value ${v} < low ${low}`);
    }
  }

  private emit(type: 'raised' | 'cleared', r: Reading, side: Side, v: number, reason: string): void {
    this.ctx.emit(transition(this.spec, type, r.series, side, v, r.ts, reason));
  }

  adopt(previous: RuleEvaluator): void {
    if (previous instanceof ThresholdEvaluator) this.states = previous.states;
    // Conditions on series this rule no longer covers end now rather than linger forever.
    for (const [series, side] of [...this.states]) {
      if (!this.pattern.matches(series)) {
        this.states.delete(series);
        this.ctx.emit(transition(this.spec, 'cleared', series, side, null, this.ctx.clock.now(), 'series no longer covered by the rule'));
      }
    }
  }

  active(): ActiveCondition[] {
    return [...this.states].map(([series, condition]) => ({ ruleId: this.spec.id, series, condition }));
  }

  restore(c: ActiveCondition): void {
    if (c.condition === 'high' || c.condition === 'low') this.states.set(c.series, c.condition);
  }

  dispose(reason: string): void {
    for (const [series, side] of this.states) {
      this.ctx.emit(transition(this.spec, 'cleared', series, side, null, this.ctx.clock.now(), reason));
    }
    this.states.clear();
  }
}
