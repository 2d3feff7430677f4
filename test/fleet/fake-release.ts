import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Tiny stand-in releases for the launcher's own tests: a bundle tarball with the real layout
 * (fieldmesh/bundle-manifest.json, fieldmesh/gateway/bin/fieldmesh.js), whose "gateway" is a
 * small node script that logs how it was started and then behaves as told:
 * - good: in a trial, confirms (rewrites the journal step=confirmed) after `confirmAfterMs`,
 *   then runs until SIGTERM;
 * - crash: exits with code 3 at once; early: exits 0 after 300 ms without confirming;
 * - hang: runs, never confirms, stops on SIGTERM; stubborn: the same but ignores SIGTERM.
 */
export type FakeBehaviour = 'good' | 'crash' | 'early' | 'hang' | 'stubborn';

export interface FakeStart {
  version: string;
  pid: number;
  ppid: number;
  trial: string | null;
  watchdogPid: string | null;
  argv: string[];
  execArgv: string[];
  at: number;
}

const GATEWAY = `import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
const b = JSON.parse(readFileSync(new URL('../../behaviour.json', import.meta.url), 'utf8'));
const root = process.env.FM_ROOT ?? '';
const journal = root + '/var/lib/fieldmesh/fleet/switch.state';
const trial = process.env.FM_FLEET_TRIAL ?? null;
const keep = setInterval(() => {}, 1 << 30);
if (b.mode === 'stubborn') process.on('SIGTERM', () => {});
else process.on('SIGTERM', () => { clearInterval(keep); process.exit(0); });
process.on('SIGHUP', () => appendFileSync(root + '/var/lib/fieldmesh/hup.log', b.version + '\\n'));
// Logged once the handlers are in place: a test may signal it as soon as it sees the line.
appendFileSync(root + '/var/lib/fieldmesh/starts.log', JSON.stringify({ version: b.version, pid: process.pid, ppid: process.ppid, trial, watchdogPid: process.env.WATCHDOG_PID ?? null, argv: process.argv.slice(2), execArgv: process.execArgv, at: Date.now() }) + '\\n');
if (b.mode === 'crash') process.exit(3);
if (b.mode === 'early') setTimeout(() => process.exit(0), 300);
if (b.mode === 'good' && trial === '1') {
  setTimeout(() => {
    const lines = readFileSync(journal, 'utf8').split('\\n').filter((l) => l && !l.startsWith('step=') && !l.startsWith('reason='));
    writeFileSync(journal + '.gw-tmp', [...lines, 'step=confirmed', ''].join('\\n'));
    renameSync(journal + '.gw-tmp', journal);
  }, b.confirmAfterMs ?? 200);
}
`;

/** Writes fake-<version>-<mode>.tgz into `dir` and returns its path. */
export function fakeBundle(dir: string, version: string, mode: FakeBehaviour, opts: { confirmAfterMs?: number } = {}): string {
  const work = mkdtempSync(join(tmpdir(), 'fm-fake-'));
  try {
    const top = join(work, 'fieldmesh');
    mkdirSync(join(top, 'gateway/bin'), { recursive: true });
    writeFileSync(join(top, 'package.json'), JSON.stringify({ name: 'fieldmesh', version, type: 'module' }));
    writeFileSync(join(top, 'gateway/package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(top, 'gateway/bin/fieldmesh.js'), GATEWAY);
    writeFileSync(join(top, 'behaviour.json'), JSON.stringify({ version, mode, ...opts }));
    // The manifest as buildBundle writes it (pretty-printed): first boot reads its version.
    writeFileSync(join(top, 'bundle-manifest.json'), JSON.stringify({ format: 1, name: 'fieldmesh', version, commit: '0'.repeat(40), machine: 'x86_64', nodeAbi: process.versions.modules }, null, 2) + '\n');
    const out = join(dir, `fake-${version}-${mode}.tgz`);
    execFileSync('tar', ['-czf', out, '-C', work, 'fieldmesh']);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function readStarts(stateDir: string): FakeStart[] {
  try {
    return readFileSync(join(stateDir, 'starts.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as FakeStart);
  } catch {
    return [];
  }
}
