import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReleaseInstall } from '#hardware/image/fleet/install';
import { renderLauncher } from '#hardware/image/fleet/launcher';
import { SH_FM_LINK } from '#hardware/image/fleet/sh-link';
import { readJournal, switchJournal } from './journal.js';
import { launcherRig, type LauncherRig } from './launcher-fixture.js';
import { waitFor } from '../wait-for.js';

/**
 * The launcher (the unit's ExecStart) for real with /bin/sh (dash here), on sandbox roots laid
 * out by first boot's own functions, with tiny node "releases" that confirm, crash, exit early
 * or hang. The service runner plays systemd (restart, stop, power cut).
 */
// Tests run concurrently (most of their time is the launcher's 1 s poll): clean up at the end.
const rigs: LauncherRig[] = [];
afterAll(async () => {
  await Promise.all(rigs.splice(0).map((r) => r.cleanup()));
});
function rig(...args: Parameters<typeof launcherRig>): LauncherRig {
  const r = launcherRig(...args);
  rigs.push(r);
  return r;
}

describe('launcher script', () => {
  it('passes sh -n and shellcheck, and /bin/sh is a POSIX shell rather than bash', () => {
    const text = renderLauncher();
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
    expect(spawnSync('sh', ['-n'], { input: text }).status).toBe(0);
    const sc = spawnSync('shellcheck', ['-s', 'sh', '-'], { input: text, encoding: 'utf8' });
    expect(sc.error, 'shellcheck is needed (Debian package shellcheck)').toBeUndefined();
    expect(sc.stdout).toBe('');
    expect(sc.status).toBe(0);
    expect(readlinkSync('/bin/sh')).toMatch(/dash$/u);
  });

  it('refuses layout paths that would inject shell', () => {
    expect(() => renderLauncher({ releasesDir: '/opt/x"; rm -rf /' })).toThrow(/releasesDir/);
  });

  it('flips links with the same fm_link as first boot, and with nothing else', () => {
    for (const text of [renderLauncher(), renderReleaseInstall()]) {
      expect(text.split(SH_FM_LINK).length - 1).toBe(1);
      // Every `ln -s` and `mv -T -f` of a link is fm_link's own.
      expect(text.match(/\bln -s\b/gu)).toHaveLength(1);
      expect(text.match(/^\s*(\w+)\(\) \{/gmu)?.filter((f) => /link/u.test(f))).toEqual(['fm_link() {']);
    }
  });
});

describe.concurrent('launcher at start', () => {
  it('steady state: execs the gateway of releases/current (no shell left), with the V8 flags, config and watchdog pid', async () => {
    const r = rig([['1.0.0', 'good']], { env: { FM_V8_FLAGS: '--max-semi-space-size=1 --max-old-space-size=64', WATCHDOG_PID: '4242' } });
    r.runner.start();
    const s = await waitFor(() => r.lastStart(), 'the gateway started');
    expect(s.version).toBe('1.0.0');
    expect(s.pid).toBe(r.runner.current!.pid);
    expect(s.ppid).toBe(process.pid);
    expect(s.trial).toBeNull();
    expect(s.watchdogPid).toBe('4242');
    expect(s.argv).toEqual(['gateway', '--config', r.sb.configPath]);
    expect(s.execArgv).toEqual(['--max-semi-space-size=1', '--max-old-space-size=64']);
    expect(readlinkSync(join(r.sb.root, 'opt/fieldmesh/app'))).toBe('releases/current');
  });

  it('passes the config overlay when config/current is there', async () => {
    const r = rig([['1.0.0', 'good']]);
    mkdirSync(join(r.sb.fleetDir, 'config'));
    writeFileSync(join(r.sb.fleetDir, 'config/7.json'), '{}');
    symlinkSync('7.json', join(r.sb.fleetDir, 'config/current'));
    r.runner.start();
    const s = await waitFor(() => r.lastStart(), 'the gateway started');
    expect(s.argv).toEqual(['gateway', '--config', r.sb.configPath, '--config-overlay', join(r.sb.fleetDir, 'config/current')]);
  });

  it('adopts a release that confirms: trial child with FM_FLEET_TRIAL=1, SIGHUP forwarded, exit code passed on, then steady', async () => {
    const r = rig([['1.0.0', 'good'], ['1.1.0', 'good']], { journal: switchJournal('1.1.0', '1.0.0', { step: 'switch' }), env: { WATCHDOG_PID: '4242' } });
    r.runner.start();
    await waitFor(() => readJournal(r.sb.journal)?.step === 'confirmed', 'confirmed', 10_000);
    const trial = r.lastStart()!;
    expect(r.sb.current()).toBe('1.1.0');
    expect(trial).toMatchObject({ version: '1.1.0', trial: '1', watchdogPid: null, ppid: r.runner.current!.pid });
    expect(readJournal(r.sb.journal)).toMatchObject({ kind: 'release', target: '1.1.0', previous: '1.0.0', attempts: '1' });
    // The launcher stays the parent until the child ends; ExecReload's SIGHUP reaches the child.
    await waitFor(() => r.runner.output.includes('confirmed'), 'the launcher saw the confirmation', 5000);
    process.kill(r.runner.current!.pid, 'SIGHUP');
    await waitFor(() => existsSync(join(r.sb.stateDir, 'hup.log')), 'SIGHUP forwarded', 5000);
    const stopped = await r.runner.stop();
    expect(stopped!.exit).toMatchObject({ code: 0 });
    r.runner.start();
    await waitFor(() => r.starts().length === 2, 'second start');
    expect(r.lastStart()).toMatchObject({ version: '1.1.0', trial: null, pid: r.runner.current!.pid });
  });

  it.each([
    ['crash', 'exited with code 3 before confirming'],
    ['early', 'exited with code 0 before confirming'],
  ] as const)('a release that exits before confirming (%s) is rolled back at once and the previous one exec-ed', async (mode, reason) => {
    const r = rig([['1.0.0', 'good'], ['1.1.0', mode]], { journal: switchJournal('1.1.0', '1.0.0') });
    writeFileSync(join(r.sb.releasesDir, 'current.new'), 'left over by a cut'); // a stale temp link name is no obstacle
    r.runner.start();
    await waitFor(() => r.lastStart()?.version === '1.0.0', 'the previous release runs', 10_000);
    expect(readJournal(r.sb.journal)).toMatchObject({ step: 'rolled-back', target: '1.1.0', reason });
    expect(r.sb.current()).toBe('1.0.0');
    expect(r.lastStart()).toMatchObject({ trial: null, pid: r.runner.current!.pid });
    expect(r.runner.restarts).toBe(0);
  });

  it('a release that never confirms is stopped at the deadline and rolled back', async () => {
    const r = rig([['1.0.0', 'good'], ['1.1.0', 'hang']], { journal: switchJournal('1.1.0', '1.0.0', { deadlineSec: '2' }) });
    r.runner.start();
    const trial = await waitFor(() => r.lastStart()?.version === '1.1.0' && r.lastStart(), 'trial started', 10_000);
    await waitFor(() => r.lastStart()?.version === '1.0.0', 'the previous release runs', 10_000);
    const took = r.lastStart()!.at - trial.at;
    expect(took).toBeGreaterThanOrEqual(2000);
    expect(took).toBeLessThan(6000);
    expect(readJournal(r.sb.journal)).toMatchObject({ step: 'rolled-back', reason: 'not healthy within 2s' });
    expect(r.sb.current()).toBe('1.0.0');
  });

  it('one that ignores SIGTERM at the deadline is killed 15 s later', async () => {
    const r = rig([['1.0.0', 'good'], ['1.1.0', 'stubborn']], { journal: switchJournal('1.1.0', '1.0.0', { deadlineSec: '1' }) });
    r.runner.start();
    const trial = await waitFor(() => r.lastStart()?.version === '1.1.0' && r.lastStart(), 'trial started', 10_000);
    await waitFor(() => r.lastStart()?.version === '1.0.0', 'the previous release runs', 30_000);
    expect(() => process.kill(trial.pid, 0)).toThrow();
    expect(r.lastStart()!.at - trial.at).toBeGreaterThanOrEqual(15_000);
    expect(readJournal(r.sb.journal)).toMatchObject({ step: 'rolled-back', reason: 'not healthy within 1s' });
  }, 60_000);

  it('starts that die with the whole service (power cuts, watchdog kills) count: rolled back after maxAttempts', async () => {
    const r = rig([['1.0.0', 'good'], ['1.1.0', 'hang']], { journal: switchJournal('1.1.0', '1.0.0', { maxAttempts: '2' }) });
    r.runner.start();
    for (let n = 1; n <= 2; n++) {
      await waitFor(() => r.starts().filter((s) => s.version === '1.1.0').length === n, `trial start ${n}`, 10_000);
      expect(readJournal(r.sb.journal)).toMatchObject({ step: 'trial', attempts: String(n) });
      await r.runner.powerCut();
    }
    await waitFor(() => r.lastStart()?.version === '1.0.0', 'the previous release runs', 10_000);
    expect(readJournal(r.sb.journal)).toMatchObject({ step: 'rolled-back', reason: 'did not confirm in 2 starts' });
    expect(r.sb.current()).toBe('1.0.0');
    expect(r.lastStart()!.pid).toBe(r.runner.current!.pid);
  });

  it('config revisions: adopted with the overlay, rolled back to the base config by removing it', async () => {
    const good = rig([['1.0.0', 'good']], { journal: { ...switchJournal('8', 'base'), kind: 'config' } });
    mkdirSync(join(good.sb.fleetDir, 'config'));
    writeFileSync(join(good.sb.fleetDir, 'config/8.json'), '{}');
    good.runner.start();
    await waitFor(() => readJournal(good.sb.journal)?.step === 'confirmed', 'config confirmed', 10_000);
    expect(readlinkSync(join(good.sb.fleetDir, 'config/current'))).toBe('8.json');
    expect(good.lastStart()!.argv).toContain('--config-overlay');

    const bad = rig([['1.0.0', 'hang']], { journal: { ...switchJournal('9', '8', { deadlineSec: '1' }), kind: 'config' } });
    mkdirSync(join(bad.sb.fleetDir, 'config'));
    writeFileSync(join(bad.sb.fleetDir, 'config/8.json'), '{}');
    writeFileSync(join(bad.sb.fleetDir, 'config/9.json'), '{}');
    bad.runner.start();
    await waitFor(() => readJournal(bad.sb.journal)?.step === 'rolled-back', 'config rolled back', 10_000);
    expect(readlinkSync(join(bad.sb.fleetDir, 'config/current'))).toBe('8.json');
    await waitFor(() => bad.starts().length === 2, 'restarted on revision 8');
    expect(bad.lastStart()).toMatchObject({ trial: null });

    const toBase = rig([['1.0.0', 'crash']], { journal: { ...switchJournal('3', 'base'), kind: 'config' } });
    mkdirSync(join(toBase.sb.fleetDir, 'config'));
    writeFileSync(join(toBase.sb.fleetDir, 'config/3.json'), '{}');
    toBase.runner.start();
    await waitFor(() => readJournal(toBase.sb.journal)?.step === 'rolled-back', 'config rolled back to base', 10_000);
    expect(existsSync(join(toBase.sb.fleetDir, 'config/current'))).toBe(false);
  });

  it('a journal naming a release that is not installed rolls back without starting anything else', async () => {
    const r = rig([['1.0.0', 'good']], { journal: switchJournal('2.0.0', '1.0.0') });
    r.runner.start();
    await waitFor(() => r.lastStart(), 'started');
    expect(r.lastStart()).toMatchObject({ version: '1.0.0', trial: null });
    expect(readJournal(r.sb.journal)).toMatchObject({ step: 'rolled-back', reason: 'target 2.0.0 is not installed' });
  });

  it.each([
    ['a path in target', 'kind=release\ntarget=../../../tmp\nprevious=1.0.0\nstep=trial\n'],
    ['a path in previous', 'kind=release\ntarget=1.1.0\nprevious=/etc\nstep=trial\n'],
    ['shell in a value', 'kind=release\ntarget=1.1.0$(touch /tmp/fm-pwned)\nprevious=1.0.0\nstep=trial\n'],
    ['an unknown kind', 'kind=firmware\ntarget=1.1.0\nprevious=1.0.0\nstep=trial\n'],
    ['a huge count', 'kind=release\ntarget=1.1.0\nprevious=1.0.0\nstep=trial\nattempts=99999999999999999999\n'],
    ['a megabyte of noise', 'x'.repeat(1 << 20)],
  ])('a hostile journal (%s) is ignored: steady state on current, the file untouched', async (_what, text) => {
    const r = rig([['1.0.0', 'good'], ['1.1.0', 'good']]);
    writeFileSync(r.sb.journal, text);
    r.runner.start();
    await waitFor(() => r.lastStart(), 'started');
    expect(r.lastStart()).toMatchObject({ version: '1.0.0', trial: null, pid: r.runner.current!.pid });
    expect(readFileSync(r.sb.journal, 'utf8')).toBe(text);
    expect(r.sb.current()).toBe('1.0.0');
    expect(existsSync('/tmp/fm-pwned')).toBe(false);
    await waitFor(() => r.runner.output.includes('ignoring malformed'), 'the launcher says why it ignored the journal', 5000);
  });

  it('a stop during the trial passes SIGTERM once (from the group) and keeps the start counted', async () => {
    const r = rig([['1.0.0', 'good'], ['1.1.0', 'hang']], { journal: switchJournal('1.1.0', '1.0.0') });
    r.runner.start();
    await waitFor(() => r.lastStart()?.version === '1.1.0', 'trial started', 10_000);
    const stopped = await r.runner.stop();
    expect(stopped!.exit).toMatchObject({ code: 0 });
    expect(readJournal(r.sb.journal)).toMatchObject({ step: 'trial', attempts: '1' });
    expect(r.sb.current()).toBe('1.1.0');
  });
});
