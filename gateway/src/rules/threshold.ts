import type { Reading } from '@fieldmesh/device-sdk';
import { numericValue, transition, type EvaluatorContext, type RuleEvaluator } from './evaluator.js';
import type { SeriesPattern } from '../series/pattern.js';
import type { ThresholdRule } from './spec.js';
import type { ActiveCondition } from '../alerts/transition.js';

type Side = 'high' | 'low';

interface ThresholdState {
  side: Side | undefined;
}

/**
 * Threshold with hysteresis. Raised when value > high (or < low); cleared only when
 * value < high − hysteresis (or > low + hysteresis). A jump straight from one side to the other
 * clears the first condition, then raises the second.
 */
export class ThresholdEvaluator implements RuleEvaluator<ThresholdState> {
  private states = new Map<string, ThresholdState>();
  // Copied out of the (frozen) spec into own fields: the hot path reads them per reading.
  private readonly high: number | undefined;
  private readonly low: number | undefined;
  private readonly hysteresis: number;

  constructor(
    readonly spec: ThresholdRule,
    readonly pattern: SeriesPattern,
    private readonly ctx: EvaluatorContext,
  ) {
    this.high = spec.high;
    this.low = spec.low;
    this.hysteresis = spec.hysteresis;
  }

  stateFor(series: string): ThresholdState {
    let s = this.states.get(series);
    if (!s) this.states.set(series, (s = { side: undefined }));
    return s;
  }

  onReading(r: Reading, s: ThresholdState): void {
    const v = numericValue(r);
    if (v === null) return;
    const { high, low, hysteresis } = this;
    if (s.side === 'high' && (high === undefined || v < high - hysteresis)) {
      s.side = undefined;
      this.emit('cleared', r, 'high', v, high === undefined ? 'high limit removed' : `value ${v} < ${high} - ${hysteresis}`);
    } else if (s.side === 'low' && (low === undefined || v > low + hysteresis)) {
      s.side = undefined;
      this.emit('cleared', r, 'low', v, low === undefined ? 'low limit removed' : `value ${v} > ${low} + ${hysteresis}`);
    }
    if (s.side !== undefined) return;
    if (high !== undefined && v > high) {
      s.side = 'high';
      this.emit('raised', r, 'high', v, `value ${v} > high ${high}`);
    } else if (low !== undefined && v < low) {
      s.side = 'low';
      this.emit('raised', r, 'low', v, `value ${v} < low ${low}`);
    }
  }

  private emit(type: 'raised' | 'cleared', r: Reading, side: Side, v: number, reason: string): void {
    this.ctx.emit(transition(this.spec, type, r.series, side, v, r.ts, reason));
  }

  adopt(previous: RuleEvaluator): void {
    if (!(previous instanceof ThresholdEvaluator)) return;
    for (const [series, s] of previous.states) {
      if (s.side === undefined) continue;
      // Conditions on series this rule no longer covers end now rather than linger forever.
      if (this.pattern.matches(series)) this.states.set(series, s);
      else this.ctx.emit(transition(this.spec, 'cleared', series, s.side, null, this.ctx.clock.now(), 'series no longer covered by the rule'));
    }
  }

  active(): ActiveCondition[] {
    const out: ActiveCondition[] = [];
    for (const [series, s] of this.states) if (s.side) out.push({ ruleId: this.spec.id, series, condition: s.side });
    return out;
  }

  restore(c: ActiveCondition): void {
    if (c.condition === 'high' || c.condition === 'low') this.stateFor(c.series).side = c.condition;
  }

  dispose(reason: string): void {
    for (const [series, s] of this.states) {
      if (s.side) this.ctx.emit(transition(this.spec, 'cleared', series, s.side, null, this.ctx.clock.now(), reason));
      s.side = undefined;
    }
    this.states.clear();
  }
}
