import type { Clock, Logger, Timer } from '@fieldmesh/device-sdk';
import { CloudHttpError } from '../http/errors.js';
import { effectiveEntry } from './effective-desired.js';
import type { FleetService } from './fleet-service.js';
import type { DesiredEntry, RolloutPlan, StoredRollout } from './fleet-store.js';
import { memberOutcome, overCutoff, planWaves, tally } from './rollout-waves.js';

const isActive = (r: StoredRollout): boolean => r.state === 'running' || r.state === 'paused';

/** An entry's release and config revision, with the rollout's target in place of one of them (a rollback order is not carried). */
function withTarget(current: DesiredEntry | null, plan: RolloutPlan): DesiredEntry {
  return {
    ...(current?.version !== undefined ? { version: current.version } : {}),
    ...(current?.configRevision !== undefined ? { configRevision: current.configRevision } : {}),
    ...(plan.version !== undefined ? { version: plan.version } : { configRevision: plan.configRevision! }),
  };
}

/**
 * Runs rollouts (FLEET-CLOUD.md, "Rollouts"): one wave at a time, each member's own desired
 * entry set to the target; the next wave starts when every member of this one adopted or failed
 * (rolled back, refused, or no answer within waveTimeoutSec). A wave whose failure share is over
 * maxFailurePercent stops the rollout: no later wave is touched. A failed member's desired goes
 * back to what it runs. A cancel stops it the same way. One rollout is active (running or
 * paused) at a time. All changes run one after another (a queue), and each is stored before the
 * next, so a restart resumes.
 */
export class RolloutRunner {
  private queue: Promise<unknown> = Promise.resolve();
  private timer: Timer | null = null;
  private closed = false;
  /**
   * The active rollout as last stored, read from the store once: the runner is the only writer
   * of rollouts, and every accepted report asks for it (most while none runs).
   */
  private current: StoredRollout | null | undefined;

  constructor(
    private readonly fleet: FleetService,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Whether a gateway is connected now: a rollout starts over connected gateways only. */
    private readonly online: (gateway: string) => boolean = () => true,
  ) {
    // Failures are logged by the queue (serial); a report must never become an unhandled rejection.
    fleet.onReport(() => this.serial(() => this.evaluate()).catch(() => {}));
  }

  /** Resumes an active rollout after a restart. */
  start(): Promise<void> {
    return this.serial(() => this.evaluate());
  }

  active(): StoredRollout | null {
    if (this.current === undefined) this.current = this.fleet.store.rollouts(5).find(isActive) ?? null;
    return this.current;
  }

  create(plan: RolloutPlan, by: string): Promise<StoredRollout> {
    return this.serial(async () => {
      const current = this.active();
      if (current) throw new CloudHttpError(409, `rollout ${current.id} is ${current.state}, and one rollout is active at a time: ${current.state === 'paused' ? `resume it (fieldmesh fleet resume ${current.id}) and let it` : 'let it'} finish or stop, or cancel it (fieldmesh fleet cancel ${current.id})`);
      const store = this.fleet.store;
      if (plan.version !== undefined && !store.release(plan.version)) throw new CloudHttpError(404, `no release ${plan.version}`);
      if (plan.configRevision !== undefined && !store.config(plan.configRevision)) throw new CloudHttpError(404, `no config revision ${plan.configRevision}`);
      // Gateways offline now would only time out and count as failures; they get the target
      // when they are back, from the group or all entry the finished rollout hands it to.
      const reporting = store.gateways().filter((g) => g.reported !== null && (plan.group === undefined || g.tags.includes(plan.group))).map((g) => g.id);
      const ids = reporting.filter((id) => this.online(id));
      const members = new Set(ids);
      if (ids.length === 0) throw new CloudHttpError(409, plan.group === undefined ? 'no connected gateway has reported' : `no connected, reporting gateway is tagged ${plan.group}`);
      const now = this.clock.now();
      const waves = planWaves(ids, plan).map((w) => w.map((gateway) => ({ gateway, outcome: 'pending' as const })));
      const r = store.createRollout({ plan, state: 'running', waves, wave: -1, waveStartedAt: null, stopReason: null, createdAt: now, updatedAt: now, by });
      this.current = r;
      this.event(r, 'created', { gateways: ids.length, waves: waves.map((w) => w.length), offline: reporting.filter((id) => !members.has(id)).slice(0, 100) });
      await this.evaluate();
      return store.rollout(r.id)!;
    });
  }

  pause(id: number, by: string): Promise<StoredRollout> {
    return this.serial(async () => {
      const r = this.get(id);
      if (r.state !== 'running') throw new CloudHttpError(409, `rollout ${id} is ${r.state}, not running${r.state === 'paused' ? ' (already paused)' : ': it is over'}`);
      this.save({ ...r, state: 'paused' }, 'paused', { by });
      return this.get(id);
    });
  }

  resume(id: number, by: string): Promise<StoredRollout> {
    return this.serial(async () => {
      const r = this.get(id);
      if (r.state !== 'paused') throw new CloudHttpError(409, `rollout ${id} is ${r.state}, not paused${r.state === 'running' ? ' (already running)' : ': it is over; start a new rollout'}`);
      this.save({ ...r, state: 'running' }, 'resumed', { by });
      await this.evaluate();
      return this.get(id);
    });
  }

  /**
   * Stops a running or paused rollout as the failure cutoff does: adopted members keep the target
   * (their own entries stay, `fleet clear` hands them back to their groups), later waves are
   * never touched, and members of the current wave that have not answered yet count as failed and
   * their desired goes back to what they run, as a timed-out member's does.
   */
  cancel(id: number, by: string): Promise<StoredRollout> {
    return this.serial(async () => {
      let r = this.get(id);
      if (!isActive(r)) throw new CloudHttpError(409, `rollout ${id} is ${r.state}, not running or paused: it is over already${r.state === 'stopped' ? ` (${r.stopReason ?? 'stopped'})` : ''}; start a new rollout (fieldmesh fleet rollout)`);
      const reason = `cancelled by ${by}`;
      const unfinished = r.wave >= 0 ? r.waves[r.wave]!.filter((m) => m.outcome === 'pending').map((m) => m.gateway) : [];
      if (unfinished.length > 0) {
        const waves = r.waves.map((w, i) => (i === r.wave ? w.map((m) => (m.outcome === 'pending' ? { ...m, outcome: 'failed' as const, reason: 'cancelled' } : m)) : w));
        r = { ...r, waves };
      }
      this.disarm();
      this.save({ ...r, state: 'stopped', stopReason: reason }, 'stopped', { wave: r.wave, reason, by, ...(unfinished.length > 0 ? { unfinished: unfinished.slice(0, 100) } : {}) });
      for (const gw of unfinished) await this.backToRunning(r, gw);
      return this.get(id);
    });
  }

  close(): void {
    this.closed = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private get(id: number): StoredRollout {
    const r = this.fleet.store.rollout(id);
    if (!r) throw new CloudHttpError(404, `no rollout ${id} (GET /api/fleet, fieldmesh fleet status, lists the rollouts with their ids)`);
    return r;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch((err: Error) => {
      if (!(err instanceof CloudHttpError)) this.logger.error({ err: err.message }, 'rollout step failed');
    });
    return run;
  }

  /** Takes in the members' reports, fails the overdue, and moves the active rollout on. */
  private async evaluate(): Promise<void> {
    if (this.closed) return;
    let r = this.active();
    if (!r) return;
    const store = this.fleet.store;
    const now = this.clock.now();
    if (r.wave >= 0) {
      const overdue = r.waveStartedAt !== null && now - r.waveStartedAt >= r.plan.waveTimeoutSec * 1000;
      const members = r.waves[r.wave]!;
      const next = members.map((m) => {
        if (m.outcome !== 'pending') return m;
        const o = memberOutcome(r!.plan, store.gateway(m.gateway)?.reported ?? null);
        if (o.outcome === 'pending' && overdue) return { ...m, outcome: 'failed' as const, reason: `no answer within ${r!.plan.waveTimeoutSec} s` };
        return o.outcome === 'pending' ? m : { ...m, outcome: o.outcome, ...(o.reason ? { reason: o.reason } : {}) };
      });
      const failedNow = next.filter((m, i) => m.outcome === 'failed' && members[i]!.outcome === 'pending').map((m) => m.gateway);
      if (next.some((m, i) => m !== members[i])) {
        const waves = r.waves.map((w, i) => (i === r!.wave ? next : w));
        r = { ...r, waves };
        this.save(r, null);
      }
      for (const gw of failedNow) await this.backToRunning(r, gw);
      const t = tally(next);
      if (t.pending > 0) return this.arm(r);
      if (overCutoff(t, r.plan.maxFailurePercent)) {
        const why = next.filter((m) => m.outcome === 'failed').map((m) => `${m.gateway} ${m.reason ?? 'failed'}`).join('; ');
        const reason = `wave ${r.wave}${r.wave === 0 ? ' (canary)' : ''}: ${t.failed} of ${t.size} failed (${Math.round((t.failed * 100) / t.size)}%), over maxFailurePercent ${r.plan.maxFailurePercent}%: ${why}`.slice(0, 2000);
        this.disarm();
        return this.save({ ...r, state: 'stopped', stopReason: reason }, 'stopped', { wave: r.wave, reason });
      }
      if (r.wave === r.waves.length - 1) {
        this.disarm();
        this.save({ ...r, state: 'done' }, 'done', { progress: tally(r.waves.flat()) });
        return this.handOver(r);
      }
    }
    if (r.state !== 'running') return this.disarm();
    await this.startWave(r, r.wave + 1);
  }

  private async startWave(r: StoredRollout, index: number): Promise<void> {
    const started = { ...r, wave: index, waveStartedAt: this.clock.now() };
    this.save(started, 'wave-started', { wave: index, members: r.waves[index]!.map((m) => m.gateway) });
    const store = this.fleet.store;
    for (const m of r.waves[index]!) {
      const g = store.gateway(m.gateway);
      const current = effectiveEntry(store.allDesired(), m.gateway, g?.tags ?? []);
      await this.fleet.setDesired({ gateway: m.gateway }, withTarget(current, r.plan), `rollout:${r.id}`);
    }
    // Members that already run the target count at once; the rest report.
    await this.evaluate();
  }

  /**
   * A finished rollout hands the target to its scope's entry (the group's, or `all`) and drops the
   * own entries it set on the members that adopted, where the scope entry then gives them the
   * same: so the fleet follows its groups again, and gateways that report later get the target.
   * A member whose groups would give it something else keeps its own entry.
   */
  private async handOver(r: StoredRollout): Promise<void> {
    const store = this.fleet.store;
    const scope = r.plan.group !== undefined ? { group: r.plan.group } : { all: true as const };
    const current = store.desired(r.plan.group !== undefined ? `group:${r.plan.group}` : 'all');
    await this.fleet.setDesired(scope, withTarget(current, r.plan), `rollout:${r.id}`);
    const by = `rollout:${r.id}`;
    for (const m of r.waves.flat()) {
      if (m.outcome !== 'adopted') continue;
      const own = store.desired(`gateway:${m.gateway}`);
      if (!own || own.by !== by) continue;
      const without = effectiveEntry(store.allDesired().filter((e) => e.scope !== own.scope), m.gateway, store.gateway(m.gateway)?.tags ?? []);
      if (without?.version === own.version && without?.configRevision === own.configRevision && without?.rollback === undefined && own.rollback === undefined) await this.fleet.clearDesired({ gateway: m.gateway }, by);
    }
  }

  /** A failed member's own entry goes back to what it runs (its release, when the cloud holds it; else "keep"). */
  private async backToRunning(r: StoredRollout, gateway: string): Promise<void> {
    const store = this.fleet.store;
    const g = store.gateway(gateway);
    const running = g?.reported?.running;
    const current = store.desired(`gateway:${gateway}`);
    const entry: DesiredEntry = {};
    if (r.plan.version !== undefined) {
      if (running && store.release(running.version)) entry.version = running.version;
      if (current?.configRevision !== undefined) entry.configRevision = current.configRevision;
    } else {
      if (current?.version !== undefined) entry.version = current.version;
      if (running?.configRevision != null && store.config(running.configRevision)) entry.configRevision = running.configRevision;
    }
    await this.fleet.setDesired({ gateway }, entry, `rollout:${r.id}`);
  }

  private arm(r: StoredRollout): void {
    this.disarm();
    if (r.waveStartedAt === null || this.closed) return;
    const left = Math.max(0, r.waveStartedAt + r.plan.waveTimeoutSec * 1000 - this.clock.now());
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.serial(() => this.evaluate()).catch(() => {});
    }, left + 1);
    this.timer.unref?.();
  }

  private disarm(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private save(r: StoredRollout, transition: string | null, detail: Record<string, unknown> = {}): void {
    const next = { ...r, updatedAt: this.clock.now() };
    this.fleet.store.saveRollout(next);
    this.current = isActive(next) ? next : null;
    if (transition) this.event(next, transition, detail);
  }

  private event(r: StoredRollout, transition: string, detail: Record<string, unknown>): void {
    this.fleet.store.addEvent({ at: this.clock.now(), gateway: null, kind: 'rollout', detail: { rollout: r.id, event: transition, ...(r.plan.version !== undefined ? { version: r.plan.version } : { configRevision: r.plan.configRevision }), ...detail } });
  }
}
