import type { Reading } from '@fieldmesh/device-sdk/reading';
import { transition, type EvaluatorContext, type RuleEvaluator } from './evaluator.js';
import { deviceOf, type SeriesPattern } from './pattern.js';
import type { StalenessRule } from './spec.js';
import type { ActiveCondition } from './transition.js';

/** Key of one watched target in the shared deadline wheel. */
export function stalenessKey(ruleId: string, target: string): string {
  return `${ruleId}\u0000${target}`;
}

/**
 * Staleness: a series (or a device) silent for `afterMs` of gateway monotonic time. Arrival time
 * counts, not the reading's own timestamp: a device with a wrong clock is still alive. Each
 * reading moves the target's deadline in the shared DeadlineWheel (O(1)); the wheel calls `onDue`.
 */
export class StalenessEvaluator implements RuleEvaluator {
  private lastSeen = new Map<string, number>();
  private activeTargets = new Set<string>();

  constructor(
    readonly spec: StalenessRule,
    readonly pattern: SeriesPattern,
    private readonly ctx: EvaluatorContext,
  ) {}

  /** Starts watching what the pattern names exactly, so a series that never arrives is reported. */
  start(): void {
    const target = this.spec.scope === 'device' ? this.pattern.device : this.pattern.exact ? this.pattern.text : undefined;
    if (target === undefined || this.lastSeen.has(target) || this.activeTargets.has(target)) return;
    const now = this.ctx.clock.monotonic();
    this.lastSeen.set(target, now);
    this.ctx.wheel.schedule(stalenessKey(this.spec.id, target), now + this.spec.afterMs);
  }

  private targetOf(series: string): string {
    return this.spec.scope === 'device' ? deviceOf(series) : series;
  }

  private label(target: string): string {
    return this.spec.scope === 'device' ? `${target}/*` : target;
  }

  onReading(r: Reading, v: number | null): void {
    const target = this.targetOf(r.series);
    const now = this.ctx.clock.monotonic();
    this.lastSeen.set(target, now);
    if (this.activeTargets.delete(target)) {
      this.ctx.emit(transition(this.spec, 'cleared', this.label(target), 'stale', v, r.ts, `reading from ${r.series} after silence`));
    }
    this.ctx.wheel.schedule(stalenessKey(this.spec.id, target), now + this.spec.afterMs);
  }

  onDue(target: string): void {
    if (this.activeTargets.has(target)) return;
    this.activeTargets.add(target);
    this.ctx.emit(
      transition(this.spec, 'raised', this.label(target), 'stale', null, this.ctx.clock.now(), `silent for ${this.spec.afterMs} ms`),
    );
  }

  adopt(previous: RuleEvaluator): void {
    if (!(previous instanceof StalenessEvaluator)) return;
    const sameScope = previous.spec.scope === this.spec.scope;
    for (const target of previous.activeTargets) {
      if (sameScope && this.covers(target)) this.activeTargets.add(target);
      else
        this.ctx.emit(transition(this.spec, 'cleared', previous.label(target), 'stale', null, this.ctx.clock.now(), 'target no longer covered by the rule'));
    }
    for (const [target, seen] of previous.lastSeen) {
      const key = stalenessKey(this.spec.id, target);
      if (!sameScope || !this.covers(target)) {
        this.ctx.wheel.cancel(key);
        continue;
      }
      this.lastSeen.set(target, seen);
      // A new `after` applies from the last reading, as if it had been configured all along.
      if (this.activeTargets.has(target)) this.ctx.wheel.cancel(key);
      else this.ctx.wheel.schedule(key, seen + this.spec.afterMs);
    }
  }

  private covers(target: string): boolean {
    if (this.spec.scope === 'series') return this.pattern.matches(target);
    return this.pattern.device === undefined || this.pattern.device === target;
  }

  active(): ActiveCondition[] {
    return [...this.activeTargets].map((t) => ({ ruleId: this.spec.id, series: this.label(t), condition: 'stale' as const }));
  }

  restore(c: ActiveCondition): void {
    if (c.condition !== 'stale') return;
    const target = this.spec.scope === 'device' ? deviceOf(c.series) : c.series;
    this.activeTargets.add(target);
    this.ctx.wheel.cancel(stalenessKey(this.spec.id, target));
  }

  dispose(reason: string): void {
    for (const target of this.lastSeen.keys()) this.ctx.wheel.cancel(stalenessKey(this.spec.id, target));
    for (const target of this.activeTargets) {
      this.ctx.emit(transition(this.spec, 'cleared', this.label(target), 'stale', null, this.ctx.clock.now(), reason));
    }
    this.lastSeen.clear();
    this.activeTargets.clear();
  }
}
