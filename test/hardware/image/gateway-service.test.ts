import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryBootPartition } from '#hardware/image/boot-partition';
import { customiseBootPartition } from '@fieldmesh/hardware/image/customise';
import { PI_CMDLINE, PI_CONFIG } from './synthetic-image.js';
import { waitFor } from '../../wait-for.js';

/**
 * The image's output meets the real gateway: the gateway.yaml and device credentials written by
 * `fieldmesh image` start `fieldmesh gateway` (ports moved to free ones for the test), a device
 * logs in with the password from the secrets, and under a (fake) systemd notify socket the
 * gateway says READY, pings the watchdog, logs its board profile and says STOPPING on SIGTERM.
 */
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'fm-gw-service-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function collect(child: ChildProcess, stream: 'stdout' | 'stderr') {
  const state = { text: '' };
  child[stream]!.on('data', (d: Buffer) => (state.text += d.toString('utf8')));
  return state;
}

const until = (what: string, pred: () => boolean, ms = 60_000) => waitFor(pred, what, ms, { everyMs: 50 });

describe('gateway under systemd-style supervision, with an image-made config', () => {
  it('starts from the image config, accepts an image-made device password, notifies READY / WATCHDOG / STOPPING', async () => {
    if (spawnSync('systemd-notify', ['--version']).error || spawnSync('python3', ['--version']).error) {
      const msg = '!!! systemd-notify or python3 missing (Debian "systemd", "python3"): cannot test the watchdog integration';
      console.error(msg);
      throw new Error(msg);
    }
    const boot = new MemoryBootPartition({ '/config.txt': PI_CONFIG, '/cmdline.txt': PI_CMDLINE, '/start4.elf': 'x' });
    const made = await customiseBootPartition(boot, {
      bundle: Buffer.from([0x1f, 0x8b, 8, 0]),
      devices: ['th1'],
      provisioning: { hostname: 'gw-svc', user: 'ops', sshKeys: ['ssh-ed25519 AAAAC3Nza test'], bootMount: '/boot/firmware' },
    });
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'devices.json'), (await boot.read('/fieldmesh/device-credentials.json'))!);
    // The image's config as written, with the fixed ports and paths swapped for test ones.
    const yaml = (await boot.read('/fieldmesh/gateway.yaml'))!
      .toString('utf8')
      .replace('dataDir: "/var/lib/fieldmesh"', `dataDir: ${JSON.stringify(dataDir)}`)
      .replace('broker: { port: 1883,', 'broker: { port: 0, host: 127.0.0.1,')
      .replace('http: { port: 8081 }', 'http: { port: 0 }')
      .replace('mesh: { port: 7946, mdns: true,', 'mesh: { port: 0, mdns: false,');
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, yaml);

    const socket = join(dir, 'notify');
    const manager = spawn('python3', [join(fixtures, 'fake-service-manager.py'), socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(manager);
    const notes = collect(manager, 'stdout');
    await until('the fake manager', () => notes.text.includes('listening'));
    const messages = () =>
      notes.text
        .split('\n')
        .filter((l) => l.includes('"msg"'))
        .map((l) => (JSON.parse(l) as { msg: string }).msg);

    const gw = spawn(process.execPath, [join(repo, 'gateway/bin/fieldmesh.js'), 'gateway', '--config', config], {
      cwd: dir,
      env: { ...process.env, NOTIFY_SOCKET: socket, WATCHDOG_USEC: '1000000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(gw);
    const out = collect(gw, 'stdout');
    const err = collect(gw, 'stderr');
    const exited = new Promise<number | null>((r) => gw.once('exit', (code) => r(code)));
    await until('the gateway to listen', () => /^broker: mqtt:\/\/127\.0\.0\.1:\d+$/mu.test(out.text) || gw.exitCode !== null);
    expect(gw.exitCode, err.text).toBeNull();
    expect(out.text).toContain('gateway: gw-svc');
    // Credentials came from the image: the gateway prints none of its own.
    expect(out.text).not.toContain('credentials');

    await until('READY=1', () => messages().some((m) => m.includes('READY=1')));
    await until('two watchdog pings', () => messages().filter((m) => m === 'WATCHDOG=1').length >= 2);
    expect(err.text).toMatch(/board profile/u);
    expect(err.text).toMatch(/"board":"generic"|"board":"pi-/u);

    const port = Number(/^broker: mqtt:\/\/127\.0\.0\.1:(\d+)$/mu.exec(out.text)![1]);
    const login = (password: string) =>
      new Promise<boolean>((resolve) => {
        const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'th1', username: 'th1', password, reconnectPeriod: 0, connectTimeout: 20_000 });
        c.once('connect', () => {
          c.end(true);
          resolve(true);
        });
        c.once('error', () => {
          c.end(true);
          resolve(false);
        });
      });
    expect(await login(made.deviceSecrets![0]!.password)).toBe(true);
    expect(await login('wrong-password')).toBe(false);

    gw.kill('SIGTERM');
    expect(await exited).toBe(0);
    await until('STOPPING=1', () => messages().includes('STOPPING=1'), 20_000);
  }, 180_000);
});
