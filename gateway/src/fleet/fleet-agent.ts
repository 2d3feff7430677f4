import { mkdirSync } from 'node:fs';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import type { Clock, Logger } from '@fieldmesh/device-sdk';
import { parseDesired, type DesiredState, type RefusalReason, type ReportedUpdate } from '@fieldmesh/protocol';
import type { FleetConfig } from '../config/fleet.js';
import { keepRefusals, newRefusals, readMemory, writeMemory, type AgentMemory } from './agent-memory.js';
import type { BundleSource } from './bundle-source.js';
import { judgeDesired, samePlan, type Plan, type Refusal } from './desired-judgement.js';
import { writeFileDurably } from '@fieldmesh/device-sdk/durable-file';
import { FleetError } from './errors.js';
import { FleetCounters } from './fleet-metrics.js';
import { configFile, fleetPaths, type FleetPaths } from './fleet-paths.js';
import { installRelease } from './release-install.js';
import { pruneReleases } from './release-pruning.js';
import { ReportedStateBook } from './reported-state.js';
import { RetrySchedule } from './retry-schedule.js';
import { readJournal, reportedTarget, writeJournal, type SwitchJournal } from './switch-journal.js';
import { performSwitch } from './switch-steps.js';
import { resumeJournal, setCorruptJournalAside, type JournalHost } from './journal-resume.js';
import { TrialConfirmation, type TrialProbe } from './trial-confirmation.js';

/** How the agent talks over the uplink: the desired topic in, the retained reported state out. */
export interface FleetChannel {
  online(): boolean;
  /** Publishes the retained reported state; resolves on PUBACK (true) or false (offline, timeout). */
  publishReported(payload: string): Promise<boolean>;
}

export interface FleetAgentDeps {
  gatewayId: string;
  fleet: Readonly<FleetConfig>;
  dataDir: string;
  channel: FleetChannel;
  /** What runs now: the release version and the config revision of the overlay (null: base only). */
  running: { version: string; configRevision: number | null; releaseDir: string | null };
  /** The real config validator on base + sections (config-overlay.ts configChecker). */
  checkConfig(sections: Record<string, unknown>): string | null;
  /** Where release bundles come from (the cloud's HTTP API or the uplink: bundle-source.ts). */
  bundles: BundleSource;
  /** Started by the launcher to prove itself (FM_FLEET_TRIAL=1). */
  trial: boolean;
  probe: TrialProbe;
  /** systemd watchdog ping interval, ms (0: none). */
  watchdogMs: number;
  machine: string;
  nodeAbi: string;
  /** Stop the gateway gracefully and exit with `code` (75: the launcher starts the new release). */
  restart(code: number): void;
  clock: Clock;
  logger: Logger;
  /** Delay before a failed download is tried again, doubling up to 16×, half of it random. Default 30 s. */
  retryMs?: number;
}

/** How long a confirmed trial waits before acting on desired state: several of the launcher's 1 s polls. */
export const LAUNCHER_SEES_CONFIRMED_MS = 5000;

/** Download attempts failing in a row before `fetch-failed` is reported as a refusal. */
export const FETCH_FAILURES_REFUSED = 3;

/** Exit code asking the launcher to start what the journal names (sysexits EX_TEMPFAIL). */
export const RESTART_INTO_NEW = 75;

/**
 * The fleet agent (FLEET-AGENT.md): reads the retained desired state, refuses what is not signed
 * by a release key or would go backwards, and otherwise installs the one release or config
 * revision asked for side by side, switches, and exits 75 so the launcher starts it on trial. A
 * trial start confirms itself here once healthy. One job at a time; a newer desired state waits
 * for it (and cuts a download it makes pointless).
 */
export class FleetAgent {
  readonly counters = new FleetCounters();
  readonly paths: FleetPaths;
  private memory: AgentMemory;
  private readonly report: ReportedStateBook;
  private readonly log: Logger;
  private readonly limited: RateLimitedLog;
  private latest: DesiredState | null = null;
  private working = false;
  private again = false;
  /** Not acting on desired state: before start, on trial until confirmed, or a journal left for the launcher. */
  private paused = true;
  private stopped = false;
  private abort: AbortController | null = null;
  private job: string | null = null;
  private readonly retry: RetrySchedule;
  /** Failed download attempts in a row for one version: at FETCH_FAILURES_REFUSED it is reported refused (and still retried). */
  private fetchFailures = { target: '', count: 0 };
  private trialCheck: TrialConfirmation | null = null;
  /** This start's trial confirmed: the process stays the launcher's child, but is no longer on trial. */
  private confirmed = false;
  /** Bundles (version:sha256) that came with the wrong hash, by the desired serial that named them: not fetched again until the cloud changes something. */
  private readonly badBundles = new Map<string, number>();

  constructor(private readonly d: FleetAgentDeps) {
    this.paths = fleetPaths(d.fleet.releasesDir, d.dataDir);
    this.log = d.logger.child({ component: 'fleet' });
    this.retry = new RetrySchedule(d.clock, d.retryMs ?? 30_000);
    this.limited = new RateLimitedLog(this.log, d.clock, { intervalMs: 60_000, countZero: false });
    try {
      for (const dir of [this.paths.stateDir, this.paths.downloadsDir, this.paths.configDir]) mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new FleetError('FM_ERR_FLEET_STATE', `${this.paths.stateDir}: ${(err as Error).message}`);
    }
    const { memory, problem } = readMemory(this.paths.agentFile);
    if (problem) this.log.error({ file: this.paths.agentFile, problem }, 'fleet agent memory unreadable; starting with an empty one');
    this.memory = memory;
    this.report = new ReportedStateBook({ gatewayId: d.gatewayId, tags: d.fleet.tags, running: { version: d.running.version, configRevision: d.running.configRevision }, refused: () => this.memory.refused, now: () => d.clock.now() });
    this.report.desiredSerial = memory.lastSerial > 0 ? memory.lastSerial : null;
  }

  /** Reads the journal left by the last start (or the launcher) and acts on it; then reports. */
  start(): void {
    this.paused = false;
    try {
      const j = readJournal(this.paths.journal);
      if (j !== null && 'corrupt' in j) setCorruptJournalAside(this.journalHost(), j.corrupt);
      else if (j !== null) resumeJournal(this.journalHost(), j);
    } catch (err) {
      // A state directory gone read-only must not stop the gateway: it runs, fleet waits.
      this.paused = true;
      this.log.error({ err: (err as Error).message, dir: this.paths.stateDir }, 'fleet: the switch journal could not be acted on; fleet updates paused');
    }
    void this.publish();
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort(new Error('gateway stopping'));
    this.trialCheck?.stop();
    this.retry.stop();
  }

  /** A message on the desired topic. Never throws: whatever arrives is judged, counted, reported. */
  onDesired(payload: Buffer): void {
    try {
      if (payload.length === 0) return; // a cleared retained message: nothing desired
      const p = parseDesired(payload); // refuses an oversized one before parsing it
      if (!p.ok || p.value.gateway !== this.d.gatewayId) {
        const why = p.ok ? `desired state for gateway ${JSON.stringify(p.value.gateway)}` : `desired state: ${p.why}`;
        this.counters.malformedDesired++;
        this.recordRefusals([{ kind: 'release', target: '-', reason: 'malformed', why }], true);
        void this.publish();
        return;
      }
      this.latest = p.value;
      // A download for a release the cloud no longer wants is cut at once.
      const wants = (p.value.release as { body?: { version?: unknown } } | undefined)?.body?.version;
      if (this.job !== null && this.job !== `release ${String(wants)}`) this.abort?.abort(new Error('superseded by a newer desired state'));
      this.retry.reset();
      this.kick();
    } catch (err) {
      this.limited.error('desired', { err: (err as Error).message }, 'desired state handling failed');
    }
  }

  /** The reported state as it would be published now. */
  reported(): string {
    return this.report.encode();
  }

  /** For /api/status: what runs, the update under way or its outcome, refusals kept, whether updates wait. */
  status(): Record<string, unknown> {
    return { running: this.d.running.version, configRevision: this.d.running.configRevision, desiredSerial: this.report.desiredSerial, update: this.report.update ?? null, refused: this.memory.refused.length, paused: this.paused, trial: this.d.trial && !this.confirmed };
  }

  private journalHost(): JournalHost {
    return {
      paths: this.paths,
      trial: this.d.trial,
      log: this.log,
      report: this.report,
      runs: (kind) => this.runs(kind),
      remember: (change) => this.remember(change),
      pause: () => void (this.paused = true),
      restartIntoJournal: () => void this.publish().then(() => this.d.restart(RESTART_INTO_NEW)),
      confirmTrial: (j) => {
        this.trialCheck = new TrialConfirmation({ clock: this.d.clock, watchdogMs: this.d.watchdogMs, uplinkWasUp: j.uplinkWasUp, probe: this.d.probe, onConfirmed: () => this.confirm(j) });
        this.trialCheck.start();
      },
    };
  }

  private confirm(j: SwitchJournal): void {
    if (this.stopped) return;
    const now = readJournal(this.paths.journal);
    // The launcher may have given up meanwhile (its deadline): its word stands.
    if (now === null || 'corrupt' in now || now.step !== 'trial' || now.target !== j.target) return;
    writeJournal(this.paths.journal, { ...now, step: 'confirmed' });
    this.confirmed = true;
    if (j.kind === 'release') {
      const removed = pruneReleases(this.paths.releasesDir, [j.target, j.previous]);
      if (removed.length > 0) this.log.info({ removed }, 'fleet: older releases removed');
    }
    this.report.set({ kind: j.kind, target: reportedTarget(j), step: 'confirm', outcome: 'adopted' });
    this.log.info({ kind: j.kind, target: j.target }, `fleet: ${j.kind} ${j.target} confirmed healthy`);
    void this.publish();
    // The launcher polls the journal each second: a next switch rewriting it before the launcher
    // read `confirmed` would look like this trial failing, and roll back what just confirmed.
    const t = this.d.clock.setTimeout(() => {
      this.paused = false;
      this.kick();
    }, LAUNCHER_SEES_CONFIRMED_MS);
    t.unref?.();
  }

  private kick(): void {
    if (this.working) {
      this.again = true;
      return;
    }
    if (this.paused || this.stopped || this.latest === null) return;
    this.working = true;
    void this.work().finally(() => {
      this.working = false;
      if (this.again && !this.stopped) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async work(): Promise<void> {
    const desired = this.latest!;
    try {
      if (desired.serial !== this.memory.lastSerial) this.remember((m) => (m.lastSerial = desired.serial));
      this.report.desiredSerial = desired.serial;
      const { plans, refusals } = this.judge(desired);
      this.recordRefusals(refusals);
      const plan = plans[0];
      if (plan === undefined) return void (await this.publish());
      if (plan.kind === 'release') await this.release(plan);
      else await this.config(plan);
    } catch (err) {
      // Disk full, a state dir gone read-only: reported, retried later, never a crash.
      this.limited.error('work', { err: (err as Error).message }, 'fleet update failed');
      this.report.set({ kind: 'release', target: '-', step: 'fetch', outcome: 'refused', reason: (err as Error).message });
      await this.publish();
      this.scheduleRetry();
    }
  }

  private judge(desired: DesiredState) {
    return judgeDesired(desired, {
      releaseKeys: this.d.fleet.releaseKeys,
      running: this.d.running,
      memory: this.memory,
      machine: this.d.machine,
      nodeAbi: this.d.nodeAbi,
      checkConfig: this.d.checkConfig,
    });
  }

  private async release(plan: Extract<Plan, { kind: 'release' }>): Promise<void> {
    const v = plan.body.version;
    const unavailable = this.d.bundles.unavailable();
    if (unavailable !== null) return this.refuseUpdate('release', v, 'fetch', 'fetch-failed', unavailable, false);
    if (this.fetchFailures.target !== v) this.fetchFailures = { target: v, count: 0 };
    const bundleKey = `${v}:${plan.body.sha256}`;
    if (this.badBundles.get(bundleKey) === this.latest?.serial) return void (await this.publish());
    this.job = `release ${v}`;
    this.abort = new AbortController();
    let moved = 0;
    const update = (step: ReportedUpdate['step']) => {
      this.report.set({ kind: 'release', target: v, step, outcome: 'in-progress', bytes: moved });
      void this.publish();
    };
    try {
      const r = await installRelease({
        paths: this.paths,
        body: plan.body,
        bundlePath: plan.bundlePath,
        source: this.d.bundles,
        runningDir: this.d.running.releaseDir,
        signal: this.abort.signal,
        step: update,
        progress: (n) => {
          this.counters.downloadedBytes += n - moved;
          moved = n;
        },
      });
      if (this.stopped) return;
      if (!r.ok) {
        if (this.abort.signal.aborted) return; // superseded: the next job says what is wanted now
        if (r.reason === 'hash-mismatch') this.badBundles.set(bundleKey, this.latest?.serial ?? 0);
        else if (!r.retry) this.remember((m) => m.failed.push(v));
        if (r.retry && ++this.fetchFailures.count < FETCH_FAILURES_REFUSED) {
          // A cut download is resumed: reported as under way (with why), not as a refusal the
          // cloud would count against the rollout; only one that keeps failing is refused.
          this.report.set({ kind: 'release', target: v, step: r.step, outcome: 'in-progress', reason: `${r.why}; retrying`, bytes: moved });
          await this.publish();
          return this.scheduleRetry();
        }
        return this.refuseUpdate('release', v, r.step, r.reason, r.why, r.retry, moved);
      }
      this.log.info({ version: v, bytes: moved, resumedFrom: r.resumedFrom }, `fleet: release ${v} fetched and unpacked`);
      if (!this.stillWanted(plan)) return;
      await this.switchTo(plan, { kind: 'release', target: v, previous: this.d.running.version }, moved);
    } finally {
      this.job = null;
      this.abort = null;
    }
  }

  private async config(plan: Extract<Plan, { kind: 'config' }>): Promise<void> {
    const rev = plan.body.revision;
    writeFileDurably(configFile(this.paths, rev), JSON.stringify(plan.envelope) + '\n');
    await this.switchTo(plan, { kind: 'config', target: String(rev), previous: this.d.running.configRevision === null ? 'base' : String(this.d.running.configRevision) });
  }

  /** Journal, link, journal, report, restart: FLEET-AGENT.md "Switch". */
  private async switchTo(plan: Plan, what: Pick<SwitchJournal, 'kind' | 'target' | 'previous'>, bytes?: number): Promise<void> {
    // The order is used up by this switch; earlier refusals of this target are history now.
    this.remember((m) => {
      if (plan.rollbackOrder !== null) m.rollbackOrder = Math.max(m.rollbackOrder, plan.rollbackOrder);
      m.refused = m.refused.filter((x) => !(x.kind === what.kind && x.target === what.target));
    });
    const journal: SwitchJournal = {
      ...what,
      step: 'switch',
      attempts: 0,
      maxAttempts: this.d.fleet.maxAttempts,
      deadlineSec: this.d.fleet.confirmDeadlineSec,
      uplinkWasUp: this.d.channel.online(),
      serial: this.latest?.serial ?? 0,
    };
    performSwitch(this.paths, journal);
    this.counters.switches++;
    this.paused = true;
    this.report.set({ kind: what.kind, target: reportedTarget(journal), step: 'switch', outcome: 'in-progress', ...(bytes !== undefined ? { bytes } : {}) });
    this.log.info({ kind: what.kind, target: what.target, previous: what.previous }, `fleet: switched to ${what.kind} ${what.target}; restarting into it`);
    await this.publish();
    this.d.restart(RESTART_INTO_NEW);
  }

  /** The plan is still what the newest desired state asks for (it may have changed during a download). */
  private stillWanted(plan: Plan): boolean {
    if (this.latest === null) return false;
    const next = this.judge(this.latest).plans[0];
    return next !== undefined && samePlan(next, plan);
  }

  private async refuseUpdate(kind: 'release' | 'config', target: string, step: ReportedUpdate['step'], reason: RefusalReason, why: string, retry: boolean, bytes?: number): Promise<void> {
    this.recordRefusals([{ kind, target, reason, why }]);
    this.report.set({ kind, target: reportedTarget({ kind, target }), step, outcome: 'refused', reason: why, ...(bytes !== undefined ? { bytes } : {}) });
    await this.publish();
    if (retry) this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (!this.stopped) this.retry.schedule(() => this.kick());
  }

  /** Counts, logs and keeps refusals (agent-memory.ts says which are new). */
  private recordRefusals(list: Refusal[], everyTime = false): void {
    const fresh = everyTime ? list : newRefusals(this.memory, list);
    if (fresh.length === 0) return;
    for (const r of fresh) {
      this.counters.refuse(r.reason);
      this.limited.warn(`refused:${r.reason}`, { kind: r.kind, target: r.target, reason: r.reason, why: r.why }, `fleet: refused ${r.kind} ${r.target}: ${r.reason}`);
    }
    this.remember((m) => keepRefusals(m, fresh, new Date(this.d.clock.now()).toISOString()));
  }

  private remember(change: (m: AgentMemory) => unknown): void {
    change(this.memory);
    try {
      writeMemory(this.paths.agentFile, this.memory);
    } catch (err) {
      this.limited.error('memory', { file: this.paths.agentFile, err: (err as Error).message }, 'fleet agent memory not written');
    }
  }

  /** What runs of `kind`, as a journal names it. */
  private runs(kind: SwitchJournal['kind']): string {
    return kind === 'release' ? this.d.running.version : String(this.d.running.configRevision);
  }

  private async publish(): Promise<void> {
    let payload: string;
    try {
      payload = this.report.encode();
    } catch (err) {
      return void this.limited.error('report', { err: (err as Error).message }, 'fleet reported state not encodable');
    }
    await this.d.channel.publishReported(payload).catch(() => false);
  }
}
