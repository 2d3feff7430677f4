import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The first mosquitto_pub example of gateway/src/ingest/INGEST.md, run as written against a
 * real gateway process with Debian's mosquitto_pub: without `-i <device id>` the refusal reaches
 * the device's side as CONNACK 2, with a wrong password as CONNACK 4, and as written the reading
 * is stored and `fieldmesh query` shows it with its unit.
 */
const BIN = resolve(import.meta.dirname, '../../../gateway/bin/fieldmesh.js');
const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub';
const dir = mkdtempSync(join(tmpdir(), 'fm-first-'));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function exec(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(file, args, { cwd: dir, timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
const fieldmesh = (args: string[]) => exec(process.execPath, [BIN, ...args]);

describe('the first mosquitto_pub example of the docs', () => {
  it('needs -i <device id>: refused with CONNACK 2 without it, 4 with a wrong password, stored as written', async () => {
    if (!existsSync(MOSQUITTO_PUB)) {
      const msg = `\n\n*** ${MOSQUITTO_PUB} is missing: this test needs Debian's mosquitto-clients (listed in .ci/apt-packages) ***\n`;
      console.error(msg);
      throw new Error(msg);
    }
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, 'id: gw-first\ndataDir: ./data\nbroker: { port: 0, host: 127.0.0.1 }\nhttp: { port: 0 }\nmesh: { mdns: false }\n');
    const added = await fieldmesh(['gateway', 'add-device', 'sensor-1', '--config', config]);
    expect(added.code, added.stderr).toBe(0);
    const password = /^password: (\S+)$/m.exec(added.stdout)![1]!;

    const gw = spawn(process.execPath, [BIN, 'gateway', '--config', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(gw);
    let out = '';
    let err = '';
    gw.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`gateway did not start:\n${out}\n${err}`)), 45_000);
      gw.stdout!.on('data', (d: Buffer) => ((out += d.toString()), /^http: /m.test(out) && (clearTimeout(timer), res())));
      gw.once('exit', (c, s) => (clearTimeout(timer), rej(new Error(`gateway exited ${c ?? s}:\n${err}`))));
    });
    const port = /^broker: mqtt:\/\/127\.0\.0\.1:(\d+)$/m.exec(out)![1]!;
    const url = /^http: (\S+)$/m.exec(out)![1]!;
    const pub = (extra: string[], pw: string) =>
      exec(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', port, '-q', '1', ...extra, '-u', 'sensor-1', '-P', pw, '-t', 'fm/d/sensor-1/senml', '-m', '[{"n":"temp","u":"Cel","v":21.5}]']);

    const noId = await pub([], password);
    expect(noId.code).not.toBe(0);
    expect(noId.stderr).toContain('Connection Refused: identifier rejected');
    const wrong = await pub(['-i', 'sensor-1'], `x${password}`);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('Connection Refused: bad user name or password');
    const ok = await pub(['-i', 'sensor-1'], password);
    expect(ok.code, ok.stderr).toBe(0);

    const q = await fieldmesh(['query', '--url', url, '--series', 'sensor-1/temp', '--from', 'now-5m']);
    expect(q.stdout).toMatch(/^\S+Z\s+21\.5 Cel$/m);
    gw.kill('SIGTERM');
  });
});
