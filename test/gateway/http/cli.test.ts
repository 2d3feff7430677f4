import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../wait-for.js';

const BIN = resolve(import.meta.dirname, '../../../gateway/bin/fieldmesh.js');
const dir = mkdtempSync(join(tmpdir(), 'fm-cli-'));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('fieldmesh gateway / status', () => {
  it('starts, prints credentials once and its ports, answers `status`, and stops cleanly on SIGTERM', async () => {
    const config = join(dir, 'gw.yaml');
    writeFileSync(config, `id: cli-gw\ndataDir: ./data\nbroker: { port: 0, host: 127.0.0.1, devices: [th1] }\nhttp: { port: 0 }\n`);
    const child = spawn(process.execPath, [BIN, 'gateway', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`gateway exited: ${out}`);
        return /^http: (\S+)$/m.test(out);
      },
      'the gateway to start',
      60_000,
      { everyMs: 50, detail: () => out },
    );
    expect(out).toMatch(/new device credentials[\s\S]*\n {2}th1 {2}\S{32}\n/);
    expect(out).toMatch(/^broker: mqtt:\/\/127\.0\.0\.1:\d+$/m);
    const url = /^http: (\S+)$/m.exec(out)![1]!;

    const status = await run(['status', '--url', url]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('gateway   cli-gw (running');
    const raw = await run(['status', '--url', url, '--json']);
    expect(JSON.parse(raw.stdout)).toMatchObject({ id: 'cli-gw', broker: { auth: 'credentials' } });

    // A device added while the gateway runs can log in at once.
    const added = await run(['gateway', 'add-device', 'th2', '--config', config]);
    expect(added.code).toBe(0);
    const password = /^password: (\S+)$/m.exec(added.stdout)![1]!;
    expect((await run(['gateway', 'add-device', 'th2', '--config', config])).code).toBe(1);
    const port = Number(/^broker: mqtt:\/\/127\.0\.0\.1:(\d+)$/m.exec(out)![1]);
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'th2', username: 'th2', password, reconnectPeriod: 0 });
    await new Promise<void>((res, rej) => {
      client.once('connect', () => res());
      client.once('error', rej);
    });
    client.end(true);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    // Restart on the same data: no credentials printed again.
    const again = spawn(process.execPath, [BIN, 'gateway', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(again);
    let out2 = '';
    again.stdout!.on('data', (d: Buffer) => (out2 += d.toString()));
    const exited2 = new Promise<number | null>((r) => again.once('exit', (code) => r(code)));
    await waitFor(
      () => {
        if (again.exitCode !== null) throw new Error(`gateway exited: ${out2}`);
        return /^http: /m.test(out2);
      },
      'the gateway to restart',
      60_000,
      { everyMs: 50, detail: () => out2 },
    );
    expect(out2).not.toContain('credentials');
    again.kill('SIGINT');
    expect(await exited2).toBe(0);
  });

  it('fails with the config error code and key path on stderr, non-zero exit', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'broker: { prot: 1 }\n');
    const r = await run(['gateway', '--config', bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('FM_ERR_CONFIG_UNKNOWN_KEY');
    expect(r.stderr).toContain('broker.prot');
  });

  it('status reports an unreachable gateway with exit 1, and both commands have --help', async () => {
    const r = await run(['status', '--url', 'http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot reach');
    expect((await run(['gateway', '--help'])).stdout).toContain('usage: fieldmesh gateway');
    expect((await run(['status', '--help'])).stdout).toContain('usage: fieldmesh status');
  });
});
