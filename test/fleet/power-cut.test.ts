import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FakeBehaviour } from './fake-release.js';
import { readJournal, switchJournal, type Journal } from './journal.js';
import { launcherRig, type LauncherRig } from './launcher-fixture.js';
import { waitFor } from '../wait-for.js';

/**
 * A power cut at every step of the launcher, deterministically: mv, ln, rm, sync and sleep are
 * found through PATH, so a shim in front of each counts the calls and, at the chosen point
 * (just before or just after the real command), SIGKILLs the launcher's whole process group,
 * trial child included: what a power cut leaves is exactly the commands before that point done.
 * Every point is cut once; the next "boot" (no shims) must end on a working release:
 * the new one confirmed, or the old one running with the journal saying rolled-back.
 */
const work = mkdtempSync(join(tmpdir(), 'fm-cut-'));
const shims = join(work, 'bin');
mkdirSync(shims);
for (const name of ['mv', 'ln', 'rm', 'sync', 'sleep']) {
  const real = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  const point = (when: string) => `c=$(($(cat "$CUT_DIR/count" 2>/dev/null || echo 0) + 1)); echo "$c" >"$CUT_DIR/count"
echo "$c ${when} ${name} $*" >>"$CUT_DIR/trace"
if [ "$c" = "$CUT_AT" ]; then kill -KILL 0; fi`;
  writeFileSync(join(shims, name), `#!/bin/sh\n${point('before')}\n${real} "$@"\nrc=$?\n${point('after')}\nexit "$rc"\n`);
  chmodSync(join(shims, name), 0o755);
}
const rigs: LauncherRig[] = [];
afterAll(async () => {
  await Promise.all(rigs.map((r) => r.cleanup()));
  rmSync(work, { recursive: true, force: true });
});

interface Scenario {
  name: string;
  mode: FakeBehaviour;
  /** The state the agent leaves: its journal, where `current` points, temp files of a cut. */
  journal: Journal;
  currentAt: '1.0.0' | '1.1.0';
  leftovers?: boolean;
  /** What a good end is: the target confirmed, or rolled back to the previous. */
  end: 'adopted' | 'rolled-back';
}

function arrange(s: Scenario, cutAt: number): { rig: LauncherRig; cutDir: string } {
  const rig = launcherRig([['1.0.0', 'good'], ['1.1.0', s.mode]], { journal: s.journal });
  rigs.push(rig);
  if (s.currentAt === '1.1.0') execFileSync('sh', ['-c', 'ln -s 1.1.0 "$1/current.new" && mv -T "$1/current.new" "$1/current"', 'x', rig.sb.releasesDir]);
  if (s.leftovers) {
    symlinkSync('1.0.0', join(rig.sb.releasesDir, 'current.new'));
    writeFileSync(`${rig.sb.journal}.tmp`, 'kind=rel');
  }
  const cutDir = join(rig.sb.root, 'cut');
  mkdirSync(cutDir);
  rig.runner.setEnv({ ...rig.sb.env, PATH: `${shims}:${process.env.PATH}`, CUT_DIR: cutDir, CUT_AT: String(cutAt) });
  return { rig, cutDir };
}

async function settled(rig: LauncherRig, s: Scenario, what: string): Promise<void> {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  await waitFor(
    () => {
      const j = readJournal(rig.sb.journal);
      const last = rig.lastStart();
      if (!j || !last || !alive(last.pid) || !rig.runner.running) return false;
      if (s.end === 'adopted') return j.step === 'confirmed' && last.version === '1.1.0' && rig.sb.current() === '1.1.0';
      return j.step === 'rolled-back' && last.version === '1.0.0' && last.trial === null && rig.sb.current() === '1.0.0';
    },
    `${what} ends ${s.end}`,
    20_000,
    { everyMs: 50, detail: () => `journal ${JSON.stringify(readJournal(rig.sb.journal))}, current ${rig.sb.current()}, output:\n${rig.runner.output}` },
  );
}

async function pool<T>(items: T[], width: number, run: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await run(item);
  }));
}

const scenarios: Scenario[] = [
  { name: 'good release, cut by the agent between journal and flip', mode: 'good', journal: switchJournal('1.1.0', '1.0.0', { step: 'switch' }), currentAt: '1.0.0', leftovers: true, end: 'adopted' },
  { name: 'good release, cut by the agent after the flip', mode: 'good', journal: switchJournal('1.1.0', '1.0.0', { step: 'switch' }), currentAt: '1.1.0', end: 'adopted' },
  { name: 'good release, as the agent leaves it', mode: 'good', journal: switchJournal('1.1.0', '1.0.0'), currentAt: '1.1.0', end: 'adopted' },
  { name: 'crashing release', mode: 'crash', journal: switchJournal('1.1.0', '1.0.0'), currentAt: '1.1.0', leftovers: true, end: 'rolled-back' },
  { name: 'hanging release', mode: 'hang', journal: switchJournal('1.1.0', '1.0.0', { deadlineSec: '1' }), currentAt: '1.1.0', end: 'rolled-back' },
];

describe('power cut at every step of the launcher', () => {
  it.concurrent.each(scenarios)('$name: every cut point ends on a working release', async (s) => {
    // The uncut run: how many points there are, and that it ends well by itself.
    const ref = arrange(s, 0);
    ref.rig.runner.start();
    await settled(ref.rig, s, 'the uncut run');
    const points = Number(readFileSync(join(ref.cutDir, 'count'), 'utf8'));
    expect(points).toBeGreaterThanOrEqual(6);
    await ref.rig.runner.stop();

    const cuts: string[] = [];
    await pool(Array.from({ length: points }, (_, i) => i + 1), 3, async (k) => {
      const { rig, cutDir } = arrange(s, k);
      rig.runner.start();
      // The next boot runs without shims.
      rig.runner.setEnv(rig.sb.env);
      await waitFor(() => rig.runner.starts[0]!.exit, `cut ${k}`, 20_000);
      expect(rig.runner.starts[0]!.exit!.signal, `cut at point ${k}`).toBe('SIGKILL');
      const trace = readFileSync(join(cutDir, 'trace'), 'utf8').trim().split('\n');
      cuts.push(trace.at(-1)!);
      await settled(rig, s, `cut at ${trace.at(-1)}`);
      await rig.runner.stop();
    });
    expect(cuts).toHaveLength(points);
  }, 170_000);
});
