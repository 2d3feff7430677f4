import type { Reading } from '@fieldmesh/device-sdk';
import { numericValue, transition, type EvaluatorContext, type RuleEvaluator } from './evaluator.js';
import type { SeriesPattern } from '../series/pattern.js';
import type { RateRule } from './spec.js';
import type { ActiveCondition } from '../alerts/transition.js';

/**
 * Points kept per series and window. Points closer together than window/THINNING are not kept
 * (the newest reading is always used as the window's end), so a 100 Hz series costs the same
 * memory as a 1 Hz one and the oldest point in the window stays accurate to window/THINNING.
 */
const THINNING = 512;

interface SeriesWindow {
  ts: number[];
  v: number[];
  head: number;
  lastTs: number;
  active?: 'rise' | 'fall';
}

/**
 * Rate of change: slope between the oldest kept reading inside the sliding window and the newest
 * one, in value units per `per`. Judged only once the window holds at least half its length of
 * data (two readings 1 ms apart say nothing about a slope). Readings not newer than the last one of
 * their series (out of order, duplicates) are ignored for the slope and counted in `ignored`.
 */
export class RateEvaluator implements RuleEvaluator<SeriesWindow> {
  private windows = new Map<string, SeriesWindow>();
  ignored = 0;
  private readonly scale: number;
  // Copied out of the (frozen) spec into own fields: the hot path reads them per reading.
  private readonly windowMs: number;
  private readonly maxRise: number | undefined;
  private readonly maxFall: number | undefined;
  private readonly hysteresis: number;

  constructor(
    readonly spec: RateRule,
    readonly pattern: SeriesPattern,
    private readonly ctx: EvaluatorContext,
  ) {
    this.scale = spec.per === 'second' ? 1000 : 60_000;
    this.windowMs = spec.windowMs;
    this.maxRise = spec.maxRise;
    this.maxFall = spec.maxFall;
    this.hysteresis = spec.hysteresis;
  }

  stateFor(series: string): SeriesWindow {
    let w = this.windows.get(series);
    if (!w) this.windows.set(series, (w = { ts: [], v: [], head: 0, lastTs: -Infinity }));
    return w;
  }

  onReading(r: Reading, w: SeriesWindow): void {
    const v = numericValue(r);
    if (v === null) return;
    if (r.ts <= w.lastTs) {
      this.ignored++;
      return;
    }
    w.lastTs = r.ts;
    const { windowMs, maxRise, maxFall, hysteresis } = this;
    const horizon = r.ts - windowMs;
    while (w.head < w.ts.length - 1 && w.ts[w.head]! < horizon) w.head++;
    if (w.ts[w.head]! < horizon) {
      // Even the newest kept point is outside: start over from this reading.
      w.ts = [];
      w.v = [];
      w.head = 0;
    }
    if (w.head > 1024 && w.head * 2 > w.ts.length) {
      w.ts = w.ts.slice(w.head);
      w.v = w.v.slice(w.head);
      w.head = 0;
    }
    const newest = w.ts.length > w.head ? w.ts[w.ts.length - 1]! : -Infinity;
    if (r.ts - newest >= windowMs / THINNING) {
      w.ts.push(r.ts);
      w.v.push(v);
    }
    const span = r.ts - w.ts[w.head]!;
    if (span < windowMs / 2) return;
    const rate = ((v - w.v[w.head]!) / span) * this.scale;
    const unit = `/${this.spec.per}`;
    if (w.active === 'rise' && (maxRise === undefined || rate < maxRise - hysteresis)) {
      w.active = undefined;
      this.ctx.emit(transition(this.spec, 'cleared', r.series, 'rise', rate, r.ts, `rate ${rate.toPrecision(4)}${unit} back under ${maxRise ?? '-'}`));
    } else if (w.active === 'fall' && (maxFall === undefined || -rate < maxFall - hysteresis)) {
      w.active = undefined;
      this.ctx.emit(transition(this.spec, 'cleared', r.series, 'fall', rate, r.ts, `rate ${rate.toPrecision(4)}${unit} back under a fall of ${maxFall ?? '-'}`));
    }
    if (w.active) return;
    if (maxRise !== undefined && rate > maxRise) {
      w.active = 'rise';
      this.ctx.emit(transition(this.spec, 'raised', r.series, 'rise', rate, r.ts, `rising ${rate.toPrecision(4)}${unit} > ${maxRise}`));
    } else if (maxFall !== undefined && -rate > maxFall) {
      w.active = 'fall';
      this.ctx.emit(transition(this.spec, 'raised', r.series, 'fall', rate, r.ts, `falling ${(-rate).toPrecision(4)}${unit} > ${maxFall}`));
    }
  }

  adopt(previous: RuleEvaluator): void {
    if (!(previous instanceof RateEvaluator)) return;
    // Keep only the alert state: the old window length or unit may no longer apply to the points.
    for (const [series, w] of previous.windows) {
      if (!w.active) continue;
      if (this.pattern.matches(series)) {
        this.windows.set(series, { ts: [], v: [], head: 0, lastTs: w.lastTs, active: w.active });
      } else {
        this.ctx.emit(transition(this.spec, 'cleared', series, w.active, null, this.ctx.clock.now(), 'series no longer covered by the rule'));
      }
    }
  }

  active(): ActiveCondition[] {
    const out: ActiveCondition[] = [];
    for (const [series, w] of this.windows) if (w.active) out.push({ ruleId: this.spec.id, series, condition: w.active });
    return out;
  }

  restore(c: ActiveCondition): void {
    if (c.condition !== 'rise' && c.condition !== 'fall') return;
    this.stateFor(c.series).active = c.condition;
  }

  dispose(reason: string): void {
    for (const [series, w] of this.windows) {
      if (w.active) this.ctx.emit(transition(this.spec, 'cleared', series, w.active, null, this.ctx.clock.now(), reason));
      w.active = undefined;
    }
    this.windows.clear();
  }
}
