import { renameSync, rmSync } from 'node:fs';
import type { Logger } from '@fieldmesh/device-sdk';
import type { AgentMemory } from './agent-memory.js';
import type { FleetPaths } from './fleet-paths.js';
import type { ReportedStateBook } from './reported-state.js';
import { reportedTarget, type SwitchJournal } from './switch-journal.js';
import { completeSwitch } from './switch-steps.js';

/** What acting on the journal at start needs of the agent. */
export interface JournalHost {
  paths: FleetPaths;
  /** Started by the launcher to prove itself (FM_FLEET_TRIAL=1). */
  trial: boolean;
  log: Logger;
  report: ReportedStateBook;
  /** What runs of `kind`, as a journal names it. */
  runs(kind: SwitchJournal['kind']): string;
  remember(change: (m: AgentMemory) => unknown): void;
  /** Stops acting on desired state (until a confirmation, or for good this start). */
  pause(): void;
  /** Publishes the reported state, then restarts into what the journal names. */
  restartIntoJournal(): void;
  /** Starts proving this trial start healthy (TrialConfirmation). */
  confirmTrial(j: SwitchJournal): void;
}

/**
 * The launcher treats a journal it cannot read as none and starts `current` steadily; a steady
 * start does the same and moves it aside (kept for a person). A trial start cannot have one
 * (the launcher wrote it just now), so there the agent only stays out of the way.
 */
export function setCorruptJournalAside(h: JournalHost, problem: string): void {
  h.log.error({ file: h.paths.journal, problem }, `switch journal unreadable${h.trial ? '; fleet updates paused' : '; moved aside to switch.state.corrupt'}`);
  if (h.trial) return h.pause();
  try {
    renameSync(h.paths.journal, `${h.paths.journal}.corrupt`);
  } catch (err) {
    h.pause();
    h.log.error({ err: (err as Error).message }, 'switch journal not moved aside; fleet updates paused');
  }
}

/** Acts on the journal the last start (or the launcher) left: FLEET-AGENT.md "Switch" and "Trial". */
export function resumeJournal(h: JournalHost, j: SwitchJournal): void {
  if (j.step === 'rolled-back') {
    // Reported once: the target is remembered as failed and the journal removed.
    h.remember((m) => (j.kind === 'release' ? m.failed.push(j.target) : m.failedConfig.push(Number(j.target))));
    h.report.set({ kind: j.kind, target: reportedTarget(j), step: 'trial', outcome: 'rolled-back', reason: j.reason ?? 'rolled back by the launcher' });
    h.log.warn({ kind: j.kind, target: j.target, previous: j.previous, reason: j.reason }, 'fleet: the switch was rolled back; it is not tried again');
    rmSync(h.paths.journal, { force: true });
    return;
  }
  if (j.step === 'confirmed') {
    // Adopted, as long as it is what runs (an overlay refused at this start is not).
    if (h.runs(j.kind) === j.target) h.report.set({ kind: j.kind, target: reportedTarget(j), step: 'confirm', outcome: 'adopted' });
    // The launcher of a trial reads `confirmed`; only a later, steady start removes it.
    if (!h.trial) rmSync(h.paths.journal, { force: true });
    return;
  }
  if (j.step === 'switch') {
    // Killed between the journal and the restart: finish the switch and restart into it.
    h.log.info({ kind: j.kind, target: j.target }, 'fleet: finishing an interrupted switch');
    completeSwitch(h.paths, j);
    h.report.set({ kind: j.kind, target: reportedTarget(j), step: 'switch', outcome: 'in-progress' });
    h.pause();
    h.restartIntoJournal();
    return;
  }
  h.pause();
  h.report.set({ kind: j.kind, target: reportedTarget(j), step: 'trial', outcome: 'in-progress' });
  if (!h.trial) {
    h.log.warn(
      { kind: j.kind, target: j.target, journal: h.paths.journal },
      `fleet: switch journal in trial of ${j.kind} ${j.target} but not started by the launcher on trial (FM_FLEET_TRIAL=1); fleet updates paused. The service must run the launcher (fieldmesh-launch), which starts the target on trial; without one, start it as the launcher does (docs/FLEET.md "Without the image's launcher")`,
    );
    return;
  }
  const runs = h.runs(j.kind);
  if (runs !== j.target) {
    // Confirming would vouch for something that is not what runs; the launcher's deadline decides.
    h.log.error({ kind: j.kind, target: j.target, running: runs }, `fleet: on trial of ${j.kind} ${j.target} but running ${runs}; not confirming`);
    return;
  }
  h.confirmTrial(j);
}
