import type { Reading } from '@fieldmesh/device-sdk';
import type { WheelEntry } from './deadline-wheel.js';
import { numericValue, transition, type EvaluatorContext, type RuleEvaluator } from './evaluator.js';
import { deviceOf, type SeriesPattern } from '../series/pattern.js';
import type { StalenessRule } from './spec.js';
import type { ActiveCondition } from '../alerts/transition.js';

/** One watched series (scope `series`) or device (scope `device`) of one staleness rule. */
export interface StaleTarget extends WheelEntry {
  owner: StalenessEvaluator;
  name: string;
  /** Monotonic ms of the last reading (or of the start of watching). */
  lastSeen: number;
  active: boolean;
}

/**
 * Staleness: a series (or a device) silent for `afterMs` of gateway monotonic time. Arrival time
 * counts, not the reading's own timestamp: a device with a wrong clock is still alive. Each
 * reading moves the target's deadline in the shared DeadlineWheel (O(1)); the wheel calls `onDue`.
 */
export class StalenessEvaluator implements RuleEvaluator<StaleTarget> {
  private targets = new Map<string, StaleTarget>();
  private readonly afterMs: number;

  constructor(
    readonly spec: StalenessRule,
    readonly pattern: SeriesPattern,
    private readonly ctx: EvaluatorContext,
  ) {
    this.afterMs = spec.afterMs;
  }

  /** Starts watching what the pattern names exactly, so a series that never arrives is reported. */
  start(): void {
    const name = this.spec.scope === 'device' ? this.pattern.device : this.pattern.exact ? this.pattern.text : undefined;
    if (name === undefined || this.targets.has(name)) return;
    const t = this.target(name);
    t.lastSeen = this.ctx.clock.monotonic();
    this.ctx.wheel.schedule(t, t.lastSeen + this.spec.afterMs);
  }

  private target(name: string): StaleTarget {
    let t = this.targets.get(name);
    if (!t) this.targets.set(name, (t = { owner: this, name, lastSeen: -Infinity, active: false, slot: -1, deadline: 0 }));
    return t;
  }

  stateFor(series: string): StaleTarget {
    return this.target(this.spec.scope === 'device' ? deviceOf(series) : series);
  }

  private label(name: string): string {
    return this.spec.scope === 'device' ? `${name}/*` : name;
  }

  onReading(r: Reading, t: StaleTarget): void {
    const v = numericValue(r);
    const now = this.ctx.arrival;
    t.lastSeen = now;
    if (t.active) {
      t.active = false;
      this.ctx.emit(transition(this.spec, 'cleared', this.label(t.name), 'stale', v, r.ts, `reading from ${r.series} after silence`));
    }
    this.ctx.wheel.schedule(t, now + this.afterMs);
  }

  onDue(t: StaleTarget): void {
    if (t.active) return;
    t.active = true;
    this.ctx.emit(
      transition(this.spec, 'raised', this.label(t.name), 'stale', null, this.ctx.clock.now(), `silent for ${this.spec.afterMs} ms`),
    );
  }

  adopt(previous: RuleEvaluator): void {
    if (!(previous instanceof StalenessEvaluator)) return;
    const sameScope = previous.spec.scope === this.spec.scope;
    for (const [name, t] of previous.targets) {
      if (!sameScope || !this.covers(name)) {
        this.ctx.wheel.cancel(t);
        if (t.active) {
          this.ctx.emit(transition(this.spec, 'cleared', previous.label(name), 'stale', null, this.ctx.clock.now(), 'target no longer covered by the rule'));
        }
        continue;
      }
      t.owner = this;
      this.targets.set(name, t);
      // A new `after` applies from the last reading, as if it had been configured all along.
      if (t.active) this.ctx.wheel.cancel(t);
      else this.ctx.wheel.schedule(t, t.lastSeen + this.spec.afterMs);
    }
  }

  private covers(name: string): boolean {
    if (this.spec.scope === 'series') return this.pattern.matches(name);
    return this.pattern.device === undefined || this.pattern.device === name;
  }

  active(): ActiveCondition[] {
    const out: ActiveCondition[] = [];
    for (const t of this.targets.values()) if (t.active) out.push({ ruleId: this.spec.id, series: this.label(t.name), condition: 'stale' });
    return out;
  }

  restore(c: ActiveCondition): void {
    if (c.condition !== 'stale') return;
    const t = this.target(this.spec.scope === 'device' ? deviceOf(c.series) : c.series);
    t.active = true;
    this.ctx.wheel.cancel(t);
  }

  dispose(reason: string): void {
    for (const t of this.targets.values()) {
      this.ctx.wheel.cancel(t);
      if (t.active) this.ctx.emit(transition(this.spec, 'cleared', this.label(t.name), 'stale', null, this.ctx.clock.now(), reason));
      t.active = false;
    }
    this.targets.clear();
  }
}
