import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '@fieldmesh/device-sdk';
import { renderServiceUnit, renderSysusers } from '#hardware/image/service/unit';
import { RecordingNotifyTransport } from '#hardware/image/service/notify-transport';
import { ServiceNotifier } from '#hardware/image/service/watchdog';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

function unitDirectives(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/u.exec(line);
    if (match) m.set(match[1]!, [...(m.get(match[1]!) ?? []), match[2]!]);
  }
  return m;
}

describe('systemd unit', () => {
  it('the committed unit and sysusers files are the rendered defaults', () => {
    expect(readFileSync(join(repo, 'hardware/systemd/fieldmesh.service'), 'utf8')).toBe(renderServiceUnit());
    expect(readFileSync(join(repo, 'hardware/systemd/fieldmesh.sysusers'), 'utf8')).toBe(renderSysusers());
  });

  it('restarts always (exit 75 = into the new release), has a watchdog, runs unprivileged with only the data dir and releases writable', () => {
    const d = unitDirectives(renderServiceUnit());
    expect(d.get('Type')).toEqual(['notify']);
    expect(d.get('NotifyAccess')).toEqual(['all']);
    expect(d.get('Restart')).toEqual(['always']);
    expect(Number(d.get('WatchdogSec')![0])).toBeGreaterThanOrEqual(2);
    expect(d.get('User')).toEqual(['fieldmesh']);
    expect(d.get('SupplementaryGroups')).toEqual(['dialout']);
    expect(d.get('ProtectSystem')).toEqual(['strict']);
    expect(d.get('StateDirectory')).toEqual(['fieldmesh']);
    expect(d.get('ReadWritePaths')).toEqual(['/var/lib/fieldmesh /opt/fieldmesh/releases']);
    expect(d.get('StandardOutput')).toEqual(['journal']);
    expect(d.get('StandardError')).toEqual(['journal']);
    expect(d.get('NoNewPrivileges')).toEqual(['true']);
    expect(d.get('ExecStart')).toEqual(['/opt/fieldmesh/bin/fieldmesh-launch']);
    expect(d.get('MemoryDenyWriteExecute')).toBeUndefined();
    expect(d.get('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(renderSysusers()).toMatch(/^m fieldmesh dialout$/mu);
  });

  it('refuses layout values that would inject directives', () => {
    expect(() => renderServiceUnit({ configPath: '/etc/x.yaml\nUser=root' })).toThrow(/configPath/);
    expect(() => renderServiceUnit({ watchdogSec: 0 })).toThrow(/watchdogSec/);
  });

  it('passes systemd-analyze verify (and a broken unit does not)', () => {
    const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (probe.error) {
      const msg = '!!! systemd-analyze is not installed: install Debian package "systemd" (listed in .ci/apt-packages) to verify the unit';
      console.error(msg);
      throw new Error(msg);
    }
    const dir = mkdtempSync(join(tmpdir(), 'fm-unit-'));
    try {
      const good = join(dir, 'fieldmesh.service');
      writeFileSync(good, renderServiceUnit({ launcherPath: '/bin/sh' }));
      const ok = spawnSync('systemd-analyze', ['verify', good], { encoding: 'utf8' });
      expect(ok.stderr).toBe('');
      expect(ok.status).toBe(0);
      const bad = join(dir, 'broken.service');
      writeFileSync(bad, renderServiceUnit({ launcherPath: join(dir, 'no-such-launcher') }));
      const ko = spawnSync('systemd-analyze', ['verify', bad], { encoding: 'utf8' });
      expect(ko.status).not.toBe(0);
      expect(ko.stderr).toContain('no-such-launcher');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ServiceNotifier (in memory)', () => {
  it('sends READY, pings at half the watchdog period, holds pings while unhealthy, stops', async () => {
    const clock = new ManualClock();
    const transport = new RecordingNotifyTransport();
    let healthy = true;
    const n = new ServiceNotifier({ transport, clock, watchdogUsec: 20_000_000, healthy: () => healthy });
    expect(n.intervalMs).toBe(10_000);
    await n.ready('up');
    expect(transport.sent[0]).toEqual(['READY=1', 'STATUS=up']);
    clock.advance(9_999);
    await Promise.resolve();
    expect(transport.sent).toHaveLength(1);
    clock.advance(1);
    clock.advance(10_000);
    await new Promise((r) => setImmediate(r));
    expect(transport.sent.slice(1)).toEqual([['WATCHDOG=1'], ['WATCHDOG=1']]);
    expect(n.stats.pingsSent).toBe(2);
    healthy = false;
    clock.advance(30_000);
    await new Promise((r) => setImmediate(r));
    expect(transport.sent).toHaveLength(3);
    expect(n.stats.pingsSkippedUnhealthy).toBe(3);
    healthy = true;
    transport.failWith = new Error('socket gone');
    clock.advance(10_000);
    await new Promise((r) => setImmediate(r));
    expect(n.stats.pingsFailed).toBe(1);
    transport.failWith = undefined;
    await n.stopping();
    expect(transport.sent.at(-1)).toEqual(['STOPPING=1']);
    clock.advance(60_000);
    await new Promise((r) => setImmediate(r));
    expect(transport.sent.at(-1)).toEqual(['STOPPING=1']);
  });

  it('without a watchdog period sends READY but no pings; fromEnv needs NOTIFY_SOCKET', async () => {
    const clock = new ManualClock();
    const transport = new RecordingNotifyTransport();
    const n = new ServiceNotifier({ transport, clock });
    await n.ready();
    clock.advance(3_600_000);
    expect(transport.sent).toHaveLength(1);
    expect(ServiceNotifier.fromEnv({})).toBeUndefined();
    expect(ServiceNotifier.fromEnv({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '4000000', WATCHDOG_PID: '1' })!.intervalMs).toBe(0);
    expect(ServiceNotifier.fromEnv({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '4000000' })!.intervalMs).toBe(2000);
    await expect(transport.send(['STATUS=a\nREADY=1'])).rejects.toThrow(/KEY=VALUE/);
  });
});

/** Collects a child's stdout lines; waitFor resolves when a predicate matches, with a deadline. */
function lines(child: ChildProcess) {
  const seen: string[] = [];
  let buf = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) !== -1) {
      seen.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    waiters.splice(0).forEach((w) => w());
  });
  const waitFor = (pred: (l: string[]) => boolean, ms: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`timed out waiting for ${what}; saw ${JSON.stringify(seen)}`)), ms);
      const check = () => {
        if (pred(seen)) {
          clearTimeout(deadline);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  return { seen, waitFor };
}

describe('watchdog over a real notify socket with systemd-notify', () => {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('gets READY and WATCHDOG pings from the event loop, and no pings once the loop hangs', async () => {
    for (const bin of ['systemd-notify', 'python3']) {
      if (spawnSync(bin, ['--version']).error) {
        const msg = `!!! ${bin} is missing: install it (Debian "systemd" / "python3") to run the real watchdog test`;
        console.error(msg);
        throw new Error(msg);
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'fm-notify-'));
    dirs.push(dir);
    const socket = join(dir, 'notify');
    const manager = spawn('python3', [join(fixtures, 'fake-service-manager.py'), socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(manager);
    const m = lines(manager);
    await m.waitFor((l) => l.some((x) => x.includes('listening')), 20_000, 'the fake manager');

    // WatchdogSec = 0.6 s, so pings every 300 ms.
    const child = spawn(process.execPath, ['--import', 'tsx', join(fixtures, 'notifier-child.ts')], {
      cwd: repo,
      env: { ...process.env, NOTIFY_SOCKET: socket, WATCHDOG_USEC: '600000' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(child);
    const c = lines(child);
    await c.waitFor((l) => l.some((x) => x.startsWith('ready')), 30_000, 'the child to be ready');
    const msgs = () => m.seen.filter((x) => x.includes('"msg"')).map((x) => JSON.parse(x) as { pid: number; msg: string });
    expect(msgs().some((x) => x.msg.includes('READY=1'))).toBe(true);
    await m.waitFor(() => msgs().filter((x) => x.msg === 'WATCHDOG=1').length >= 3, 30_000, 'three watchdog pings');
    // systemd-notify claims its parent's pid when allowed (root) and its own otherwise (the
    // unprivileged service user): NotifyAccess=all in the unit accepts both.
    expect(msgs().find((x) => x.msg === 'WATCHDOG=1')!.pid).toBeGreaterThan(0);

    child.stdin!.write('hang\n');
    await c.waitFor((l) => l.includes('hanging'), 30_000, 'the child to hang');
    // A ping spawned just before the hang may still land (allow 2 s under load); after that,
    // silence for 3 s, where a live loop would have pinged ~10 times. Waiting for an absence
    // needs a window: there is no event to wait for.
    await new Promise((r) => setTimeout(r, 2000));
    const atHang = msgs().filter((x) => x.msg === 'WATCHDOG=1').length;
    await new Promise((r) => setTimeout(r, 3000));
    expect(msgs().filter((x) => x.msg === 'WATCHDOG=1').length).toBe(atHang);
    expect(child.exitCode).toBeNull();
  });
});
