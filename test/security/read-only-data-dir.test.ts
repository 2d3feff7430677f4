import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { FieldmeshProcess } from '../e2e/fieldmesh-process.js';

/**
 * A gateway whose dataDir sits on a read-only file system (a failed SD card remounted ro by the
 * kernel, a wrong systemd ReadOnlyPaths). Root ignores permission bits, so the test makes the
 * file system itself read-only: a small tmpfs holding a real reading log, remounted ro. The real
 * `fieldmesh gateway` process must refuse to start with one clear line naming dataDir and the
 * fix, exit non-zero, and leave every byte of the log as it was.
 */
const root = mkdtempSync(join(tmpdir(), 'fm-sec-ro-'));
const mnt = join(root, 'mnt');
mkdirSync(mnt);

/** Why this machine cannot run the test (no mount privilege), or null. */
function mountProblem(): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `mount -t tmpfs failed: ${((err as { stderr?: Buffer }).stderr?.toString() || (err as Error).message).trim()}`;
  }
}
const problem = mountProblem();
if (problem) rmSync(root, { recursive: true, force: true });
if (problem) console.warn(`\n*** read-only dataDir NOT TESTED on this machine: ${problem} (needs root or CAP_SYS_ADMIN) ***\n`);

const remount = (mode: 'ro' | 'rw') => execFileSync('mount', ['-o', `remount,${mode}`, mnt], { stdio: 'pipe' });

function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) out[f] = createHash('sha256').update(readFileSync(join(dir, f))).digest('hex');
  return out;
}

async function runToExit(config: Record<string, unknown>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const file = join(root, `gw-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(config), { mode: 0o600 });
  const p = new FieldmeshProcess(['gateway', '--config', file, '--log-level', 'warn']);
  const exited = once(p.child, 'exit') as Promise<[number | null]>;
  const timer = setTimeout(() => void p.kill('SIGKILL'), 30_000);
  const [code] = await exited;
  clearTimeout(timer);
  return { code, stderr: p.stderrTail, stdout: p.stdout };
}

const base = (dataDir: string) => ({ id: 'gw-ro', dataDir, broker: { port: 0, host: '127.0.0.1', auth: 'none' }, http: { port: 0, host: '127.0.0.1' }, mesh: { port: 0, bind: '127.0.0.1', mdns: false } });

describe.skipIf(problem !== null)('a dataDir on a read-only file system (real gateway process, tmpfs remounted ro)', () => {
  const dataDir = join(mnt, 'data');
  let before: Record<string, string> = {};

  beforeAll(() => {
    mkdirSync(dataDir);
    const log = new SqliteReadingLog(join(dataDir, 'gateway.db'));
    log.append(Array.from({ length: 50 }, (_, i) => ({ series: 'dev1/t', ts: 1_700_000_000_000 + i, value: i })));
    log.close();
    remount('ro');
    before = hashes(dataDir);
    expect(Object.keys(before)).toContain('gateway.db');
  });

  const mounted: string[] = [mnt];
  afterAll(() => {
    try {
      for (const m of mounted.reverse()) execFileSync('umount', [m], { stdio: 'pipe' });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  const expectClearRefusal = (r: { code: number | null; stderr: string; stdout: string }) => {
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toMatch(/FM_ERR_CONFIG_DATA_DIR/);
    expect(r.stderr).toMatch(/dataDir: /);
    expect(r.stderr).toMatch(/read-only file system/);
    expect(r.stderr).toMatch(/remount it read-write .*or set dataDir to a directory on a writable file system/);
    // One clear line, not a stack trace.
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr).not.toMatch(/SqliteError|SQLITE_READONLY/);
    expect(r.stdout).not.toMatch(/gateway started|^http:/m);
  };

  it('an existing reading log: refused at start, exit non-zero, every file byte for byte as it was', async () => {
    const r = await runToExit(base(dataDir));
    expectClearRefusal(r);
    expect(r.stderr).toContain(dataDir);
    expect(hashes(dataDir)).toEqual(before);
  }, 60_000);

  it('a dataDir still to be created under the read-only mount: the same refusal, nothing made', async () => {
    const missing = join(mnt, 'new', 'data');
    const r = await runToExit(base(missing));
    expectClearRefusal(r);
    expect(r.stderr).toContain(missing);
    expect(readdirSync(mnt).sort()).toEqual(['data']);
  }, 60_000);

  it('only the log file read-only (a ro bind mount over gateway.db in a writable dataDir): a clear store error, the log untouched', async () => {
    const dir = join(root, 'file-ro');
    mkdirSync(dir);
    const file = join(dir, 'gateway.db');
    const log = new SqliteReadingLog(file);
    log.append([{ series: 'dev1/t', ts: 1_700_000_000_000, value: 1 }]);
    log.close();
    execFileSync('mount', ['--bind', file, file], { stdio: 'pipe' });
    mounted.push(file);
    execFileSync('mount', ['-o', 'remount,ro,bind', file], { stdio: 'pipe' });
    const hash = hashes(dir)['gateway.db'];
    const r = await runToExit(base(dir));
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(/FM_ERR_STORE_OPEN: cannot open .*gateway\.db: EROFS/);
    expect(r.stderr).toMatch(/dataDir/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    // Not mistaken for a damaged database: nothing moved aside or salvaged.
    expect(readdirSync(dir).filter((f) => f.includes('corrupt'))).toEqual([]);
    expect(hashes(dir)['gateway.db']).toBe(hash);
  }, 60_000);

  it('the log was not damaged: read-write again, it opens with all 50 readings', () => {
    remount('rw');
    try {
      const log = new SqliteReadingLog(join(dataDir, 'gateway.db'));
      const rows = log.readAfter(0, 100);
      log.close();
      expect(rows.map((r) => r.value)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    } finally {
      remount('ro');
    }
  });
});

// Where mounting is refused the attack cannot be made: that fails, naming why, like every test
// whose real part is missing, rather than passing or skipping quietly.
if (problem !== null) {
  describe('read-only dataDir (cannot mount here)', () => {
    it('mounts a tmpfs to make a read-only file system (needs root or CAP_SYS_ADMIN)', () => {
      throw new Error(`read-only dataDir NOT TESTED: ${problem}`);
    });
  });
}
