import { rmSync } from 'node:fs';
import { pointLinkDurably } from '@fieldmesh/device-sdk/durable-file';
import { bundleFile, type FleetPaths } from './fleet-paths.js';
import { writeJournal, type SwitchJournal } from './switch-journal.js';

/**
 * The switch itself (FLEET-AGENT.md, "Switch"): the journal says `switch`, the link moves, the
 * journal says `trial`. A kill between any two of these leaves a state the next start finishes
 * the same way (the launcher, or `completeSwitch` here): the link is made to point at `target`
 * and the journal moved on to `trial`. Only then does the gateway stop and exit 75.
 */
export function performSwitch(paths: FleetPaths, journal: SwitchJournal): SwitchJournal {
  writeJournal(paths.journal, { ...journal, step: 'switch', attempts: 0 });
  return completeSwitch(paths, { ...journal, step: 'switch', attempts: 0 });
}

/** From a journal at `switch`: the link at the target, the journal at `trial`. Idempotent. */
export function completeSwitch(paths: FleetPaths, journal: SwitchJournal): SwitchJournal {
  if (journal.kind === 'release') pointLinkDurably(paths.currentLink, journal.target);
  else pointLinkDurably(paths.configLink, `${journal.target}.json`);
  const trial: SwitchJournal = { ...journal, step: 'trial', attempts: 0 };
  writeJournal(paths.journal, trial);
  if (journal.kind === 'release') rmSync(bundleFile(paths, journal.target), { force: true });
  return trial;
}
