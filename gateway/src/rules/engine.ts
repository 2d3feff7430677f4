import { systemClock, type Clock, silentLogger, type Logger, type Reading } from '@fieldmesh/device-sdk';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import { DeadbandFilter, type Forwarded } from './deadband.js';
import { DeadlineWheel } from './deadline-wheel.js';
import type { EvaluatorContext, RuleEvaluator } from './evaluator.js';
import { compilePattern, type SeriesPattern } from '../series/pattern.js';
import { RateEvaluator } from './rate.js';
import { validateRules } from './schema.js';
import type { RuleSpec } from './spec.js';
import { StalenessEvaluator, type StaleTarget } from './staleness.js';
import { ThresholdEvaluator } from './threshold.js';
import type { ActiveCondition, TransitionSink } from '../alerts/transition.js';

export interface RulesEngineOptions {
  /** Raw `rules:` config (validated here) or already validated specs. */
  rules: unknown;
  /** Receives every raised/cleared transition, synchronously, in order. */
  onTransition: TransitionSink;
  clock?: Clock;
  logger?: Logger;
  /** Staleness deadlines fire at most this late (ms). Default 250. */
  stalenessResolutionMs?: number;
}

/** What applies to one series: computed once per series, then served from the cache. */
interface SeriesPlan {
  evaluators: RuleEvaluator[];
  /** `states[i]` is `evaluators[i]`'s state object for this series. */
  states: unknown[];
  filters: DeadbandFilter[];
  /** The series' last forwarded reading (filters only); `seen` false until the first one. */
  forwarded: Forwarded & { seen: boolean };
}

/**
 * Most distinct series the match cache holds before it is dropped and rebuilt. Bounds memory
 * against a device inventing series names; a normal gateway has far fewer.
 */
const PLAN_CACHE_MAX = 100_000;

export interface RulesStats {
  rules: number;
  readings: number;
  forwarded: number;
  held: number;
  transitions: number;
  cachedSeries: number;
  watchedDeadlines: number;
  reloads: number;
}

/**
 * The rules engine: pure logic over readings, driven by an injected clock.
 *
 * Cost per reading is constant in the number of rules: rules with an exact series sit in a map,
 * wildcard rules are matched once per NEW series and the result (the series' plan) cached, so a
 * reading costs one map lookup plus the rules that actually apply to it.
 */
export class RulesEngine {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly ctx: EvaluatorContext;
  private readonly wheel: DeadlineWheel<StaleTarget>;
  private evaluators = new Map<string, RuleEvaluator>();
  private filters = new Map<string, DeadbandFilter>();
  private exact = new Map<string, Array<RuleEvaluator | DeadbandFilter>>();
  private wild: Array<RuleEvaluator | DeadbandFilter> = [];
  private plans = new Map<string, SeriesPlan>();
  /** Outlives plans and reloads: what went upstream is a fact, whatever the rules become. */
  private forwardedBySeries = new Map<string, Forwarded & { seen: boolean }>();
  private specs: readonly RuleSpec[] = [];
  private readonly counts = { readings: 0, forwarded: 0, held: 0, transitions: 0, reloads: 0 };
  private sinkFailures = 0;
  /** A broken sink must not flood the log: one line per 10 s, with the count. */
  private readonly sinkLog: RateLimitedLog;

  constructor(opts: RulesEngineOptions) {
    this.clock = opts.clock ?? systemClock;
    this.logger = (opts.logger ?? silentLogger).child({ component: 'rules' });
    this.sinkLog = new RateLimitedLog(this.logger, this.clock, { intervalMs: 10_000, countZero: false });
    const sink = opts.onTransition;
    this.wheel = new DeadlineWheel<StaleTarget>(this.clock, (t) => t.owner.onDue(t), opts.stalenessResolutionMs ?? 250);
    this.ctx = {
      clock: this.clock,
      arrival: 0,
      wheel: this.wheel,
      emit: (t) => {
        this.counts.transitions++;
        try {
          sink(t);
        } catch (err) {
          // A failing sink must not stop evaluation for the other rules and readings.
          this.sinkFailures++;
          this.sinkLog.error('sink', { err, ruleId: t.ruleId, series: t.series, failures: this.sinkFailures }, 'alert sink failed');
        }
      },
    };
    this.install(validateRules(opts.rules));
  }

  /** The rules in force. */
  rules(): readonly RuleSpec[] {
    return this.specs;
  }

  /**
   * Feeds one committed reading to every rule that applies. Returns the upstream decision:
   * true = forward at full rate, false = held back by a deadband/report-on-change rule.
   */
  evaluate(r: Reading): boolean {
    this.ctx.arrival = this.clock.monotonic();
    return this.evaluateOne(r);
  }

  /**
   * Feeds the readings of one commit; `decisions[i]` receives reading i's upstream decision.
   * Cheaper than `evaluate` per reading: the clock is read once for the batch.
   */
  evaluateBatch(readings: readonly Reading[], decisions?: boolean[]): void {
    this.ctx.arrival = this.clock.monotonic();
    for (let i = 0; i < readings.length; i++) {
      const forward = this.evaluateOne(readings[i]!);
      if (decisions) decisions[i] = forward;
    }
  }

  private evaluateOne(r: Reading): boolean {
    this.counts.readings++;
    let plan = this.plans.get(r.series);
    if (!plan) plan = this.plan(r.series);
    const { evaluators, states, filters } = plan;
    for (let i = 0; i < evaluators.length; i++) evaluators[i]!.onReading(r, states[i]);
    if (filters.length === 0) {
      this.counts.forwarded++;
      return true;
    }
    const last = plan.forwarded;
    const prev = last.seen ? last : undefined;
    let forward = false;
    for (let i = 0; i < filters.length && !forward; i++) forward = filters[i]!.wants(prev, r);
    if (forward) {
      last.seen = true;
      last.value = r.value;
      last.ts = r.ts;
      this.counts.forwarded++;
    } else this.counts.held++;
    return forward;
  }

  /**
   * Replaces the rule set. Throws a RuleError (and keeps the old rules) when the new list is
   * invalid. Rules whose id still exists with the same kind keep their state (active alerts,
   * staleness deadlines, deadband references); removed rules clear their active alerts.
   */
  reload(rawRules: unknown): void {
    const specs = validateRules(rawRules);
    this.counts.reloads++;
    this.install(specs);
    this.logger.info({ rules: specs.length }, 'rules reloaded');
  }

  /** Marks conditions active without emitting, e.g. from the alert store after a restart. */
  restore(conditions: readonly ActiveCondition[]): void {
    for (const c of conditions) this.evaluators.get(c.ruleId)?.restore(c);
  }

  active(): ActiveCondition[] {
    return [...this.evaluators.values()].flatMap((e) => e.active());
  }

  stats(): RulesStats {
    return { rules: this.specs.length, ...this.counts, cachedSeries: this.plans.size, watchedDeadlines: this.wheel.size };
  }

  stop(): void {
    this.wheel.stop();
  }

  private install(specs: readonly RuleSpec[]): void {
    const oldEvaluators = this.evaluators;
    const evaluators = new Map<string, RuleEvaluator>();
    const filters = new Map<string, DeadbandFilter>();
    const exact = new Map<string, Array<RuleEvaluator | DeadbandFilter>>();
    const wild: Array<RuleEvaluator | DeadbandFilter> = [];
    const fresh: StalenessEvaluator[] = [];
    for (const spec of specs) {
      const pattern = compilePattern(spec.series) as SeriesPattern;
      let compiled: RuleEvaluator | DeadbandFilter;
      if (spec.kind === 'deadband') {
        const f = new DeadbandFilter(spec, pattern);
        filters.set(spec.id, f);
        compiled = f;
      } else {
        const e =
          spec.kind === 'threshold'
            ? new ThresholdEvaluator(spec, pattern, this.ctx)
            : spec.kind === 'rate'
              ? new RateEvaluator(spec, pattern, this.ctx)
              : new StalenessEvaluator(spec, pattern, this.ctx);
        evaluators.set(spec.id, e);
        if (e instanceof StalenessEvaluator) fresh.push(e);
        compiled = e;
      }
      if (pattern.exact) {
        const list = exact.get(pattern.text) ?? [];
        list.push(compiled);
        exact.set(pattern.text, list);
      } else wild.push(compiled);
    }
    // Removed rules, and rules whose kind changed, end their conditions first.
    for (const [id, old] of oldEvaluators) {
      const now = evaluators.get(id);
      if (!now || now.spec.kind !== old.spec.kind) old.dispose(now ? 'rule changed kind' : 'rule removed');
    }
    for (const [id, e] of evaluators) {
      const old = oldEvaluators.get(id);
      if (old && old.spec.kind === e.spec.kind) e.adopt(old);
    }
    this.evaluators = evaluators;
    this.filters = filters;
    this.exact = exact;
    this.wild = wild;
    this.plans = new Map();
    this.specs = specs;
    for (const s of fresh) s.start();
  }

  private plan(series: string): SeriesPlan {
    const evaluators: RuleEvaluator[] = [];
    const filters: DeadbandFilter[] = [];
    const add = (c: RuleEvaluator | DeadbandFilter) => {
      if (c instanceof DeadbandFilter) filters.push(c);
      else evaluators.push(c);
    };
    for (const c of this.exact.get(series) ?? []) add(c);
    for (const c of this.wild) if (c.pattern.matches(series)) add(c);
    let forwarded = this.forwardedBySeries.get(series);
    if (!forwarded) {
      forwarded = { seen: false, value: 0, ts: 0 };
      if (filters.length > 0) {
        if (this.forwardedBySeries.size >= PLAN_CACHE_MAX) this.forwardedBySeries.clear();
        this.forwardedBySeries.set(series, forwarded);
      }
    }
    const plan: SeriesPlan = { evaluators, states: evaluators.map((e) => e.stateFor(series)), filters, forwarded };
    if (this.plans.size >= PLAN_CACHE_MAX) this.plans.clear();
    this.plans.set(series, plan);
    return plan;
  }
}
