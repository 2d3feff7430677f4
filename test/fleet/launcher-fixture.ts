import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeBundle, readStarts, type FakeBehaviour, type FakeStart } from './fake-release.js';
import { writeJournal, type Journal } from './journal.js';
import { createSandboxRoot, type SandboxRoot } from './sandbox-root.js';
import { ServiceRunner } from './service-runner.js';

/** A sandbox with fake releases installed (the first one current) and a runner for its launcher. */
export interface LauncherRig {
  sb: SandboxRoot;
  runner: ServiceRunner;
  starts(): FakeStart[];
  lastStart(): FakeStart | undefined;
  cleanup(): Promise<void>;
}

export function launcherRig(releases: [string, FakeBehaviour][], opts: { journal?: Journal; env?: Record<string, string> } = {}): LauncherRig {
  const dir = mkdtempSync(join(tmpdir(), 'fm-launch-'));
  const bundles = releases.map(([v, mode]) => fakeBundle(dir, v, mode));
  const sb = createSandboxRoot({ bundle: bundles[0]!, tmpParent: dir });
  for (const b of bundles.slice(1)) sb.unpack(b);
  if (opts.journal) writeJournal(sb.journal, opts.journal);
  const runner = new ServiceRunner({ execStart: sb.launcher, env: { ...sb.env, ...opts.env }, restartSec: 0.1, name: releases.map((r) => r.join(':')).join(',') });
  return {
    sb,
    runner,
    starts: () => readStarts(sb.stateDir),
    lastStart: () => readStarts(sb.stateDir).at(-1),
    cleanup: async () => {
      await runner.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
