import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '../../../gateway/bin/fieldmesh.js');
const dir = mkdtempSync(join(tmpdir(), 'fm-gwproc-'));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], cwd = dir, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env, timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A running `fieldmesh` process whose output is awaited by content, with a deadline. */
function start(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const out = { stdout: '', stderr: '' };
  const waiters = new Set<() => void>();
  const poke = () => waiters.forEach((w) => w());
  child.stdout!.on('data', (d: Buffer) => ((out.stdout += d.toString()), poke()));
  child.stderr!.on('data', (d: Buffer) => ((out.stderr += d.toString()), poke()));
  child.once('exit', poke);
  const until = (what: 'stdout' | 'stderr', test: (s: string) => boolean, ms = 30_000) =>
    new Promise<void>((res, rej) => {
      const timer = setTimeout(() => (waiters.delete(check), rej(new Error(`timed out waiting on ${what}:\n${out.stdout}\n${out.stderr}`))), ms);
      const check = () => {
        if (test(out[what])) {
          clearTimeout(timer);
          waiters.delete(check);
          res();
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          waiters.delete(check);
          rej(new Error(`exited ${child.exitCode ?? child.signalCode}:\n${out.stdout}\n${out.stderr}`));
        }
      };
      waiters.add(check);
      check();
    });
  return { child, out, until };
}

describe('add-device / add-gateway never write a data directory silently', () => {
  it('refuse without --config or --data-dir, name the file they wrote otherwise, and never create ./data', async () => {
    const cwd = mkdtempSync(join(dir, 'cwd-'));
    const g = await run(['gateway', 'add-device', 'th1'], cwd);
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/--config FILE.*--data-dir DIR/s);
    const c = await run(['cloud', 'add-gateway', 'gw-a'], cwd);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/--config FILE.*--data-dir DIR/s);
    expect(existsSync(join(cwd, 'data'))).toBe(false);
    expect(existsSync(join(cwd, 'cloud-data'))).toBe(false);

    const g2 = await run(['gateway', 'add-device', 'th1', '--data-dir', 'gwdata'], cwd);
    expect(g2.code, g2.stderr).toBe(0);
    expect(g2.stdout).toContain(`credentials: ${join(cwd, 'gwdata', 'devices.json')}`);
    expect(existsSync(join(cwd, 'gwdata', 'devices.json'))).toBe(true);
    const c2 = await run(['cloud', 'add-gateway', 'gw-a', '--data-dir', 'clouddata'], cwd);
    expect(c2.code, c2.stderr).toBe(0);
    expect(c2.stdout).toContain(`credentials: ${join(cwd, 'clouddata', 'gateways.json')}`);
    expect(existsSync(join(cwd, 'data'))).toBe(false);
    // An id the cloud's topics, URLs and files could not carry is refused by the grammar, naming it.
    const c2bad = await run(['cloud', 'add-gateway', '.gw', '--data-dir', 'clouddata'], cwd);
    expect(c2bad.code).not.toBe(0);
    expect(c2bad.stderr).toMatch(/gateway id "\.gw" is not 1-64 of letters, digits, \. _ -, starting with a letter or digit \(FM_ERR_CLOUD_GATEWAY_ID: Pick another id/);

    // Issuing a password needs the data directory only, not the file's secrets.
    writeFileSync(join(cwd, 'gw.yaml'), 'dataDir: ${FM_T_DATA:-./gw-from-config}\nuplink:\n  url: mqtt://c:1884\n  password: "${FM_T_UNSET_SECRET:?set me}"\n');
    const g3 = await run(['gateway', 'add-device', 'th3', '--config', 'gw.yaml'], cwd);
    expect(g3.code, g3.stderr).toBe(0);
    expect(g3.stdout).toContain(`credentials: ${join(cwd, 'gw-from-config', 'devices.json')}`);
    writeFileSync(join(cwd, 'cloud.yaml'), 'dataDir: ./cloud-from-config\nstore: "${FM_T_UNSET_PG:?a postgres url}"\n');
    const c3 = await run(['cloud', 'add-gateway', 'gw-c', '--config', 'cloud.yaml'], cwd);
    expect(c3.code, c3.stderr).toBe(0);
    expect(c3.stdout).toContain(`credentials: ${join(cwd, 'cloud-from-config', 'gateways.json')}`);
  });
});

describe('fieldmesh gateway: logs, no invented device, SIGHUP', () => {
  it('pretty logs: string levels, the board profile said once at info; no device invented; the data directory printed', async () => {
    const config = join(dir, 'pretty.yaml');
    writeFileSync(config, 'id: gw-pretty\ndataDir: ./pretty-data\nbroker: { port: 0, host: 127.0.0.1 }\nhttp: { port: 0 }\nmesh: { mdns: false }\n');
    const gw = start(['gateway', '--config', config, '--log-format', 'pretty']);
    await gw.until('stdout', (s) => /^http: /m.test(s));
    expect(gw.out.stdout).toContain(`data: ${join(dir, 'pretty-data')}`);
    expect(gw.out.stdout).toContain(`no device credentials yet: run \`fieldmesh gateway add-device DEVICE_ID --config ${config}\``);
    expect(gw.out.stdout).not.toMatch(/device-1/);
    gw.child.kill('SIGTERM');
    await gw.until('stderr', (s) => s.includes('gateway stopped'));
    const lines = gw.out.stderr.trim().split('\n');
    for (const l of lines) expect(l, l).toMatch(/^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) /);
    const board = lines.filter((l) => /board/i.test(l) && /profile/.test(l));
    expect(board, gw.out.stderr).toHaveLength(1);
    expect(board[0]).toMatch(/ INFO  /);
  });

  it('JSON logs carry each key once; SIGHUP applies rules and logLevel and names each key that needs a restart', async () => {
    const config = join(dir, 'json.yaml');
    const base = 'id: gw-json\ndataDir: ./json-data\nhttp: { port: 0 }\nmesh: { mdns: false }\n';
    writeFileSync(config, base + 'broker: { port: 0, host: 127.0.0.1, devices: [th1] }\n');
    const gw = start(['gateway', '--config', config], { ...process.env, FM_LOG: 'json' });
    await gw.until('stdout', (s) => /^http: /m.test(s));
    await gw.until('stderr', (s) => s.includes('board profile'));

    // Rules and logLevel change live; broker.maxConnections and http.host need a restart.
    writeFileSync(
      config,
      base.replace('http: { port: 0 }', 'http: { port: 0, host: "::1" }') +
        'logLevel: debug\nbroker: { port: 0, host: 127.0.0.1, devices: [th1], maxConnections: 5 }\n' +
        'rules: [{ id: hot, kind: threshold, series: th1/temp, high: 30 }]\n',
    );
    gw.child.kill('SIGHUP');
    await gw.until('stderr', (s) => s.includes('need a restart'));
    const parsed = gw.out.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const reloaded = parsed.find((l) => String(l.msg).startsWith('config reloaded'))!;
    expect(reloaded).toMatchObject({ level: 30, applied: ['rules', 'logLevel'], rules: 1, logLevel: 'debug' });
    const restart = parsed.find((l) => String(l.msg).includes('need a restart'))!;
    expect(restart).toMatchObject({ level: 40, restart: ['broker.maxConnections', 'http.host'] });

    // A broken file is refused; the config in force stays.
    writeFileSync(config, base + 'broker: { port: nope }\n');
    gw.child.kill('SIGHUP');
    await gw.until('stderr', (s) => s.includes('config reload refused'));
    expect(gw.out.stderr).toMatch(/"code":"FM_ERR_CONFIG_TYPE"/);

    gw.child.kill('SIGTERM');
    await gw.until('stderr', (s) => s.includes('gateway stopped'));
    const lines = gw.out.stderr.trim().split('\n');
    for (const l of lines) {
      const keys = [...l.matchAll(/"([A-Za-z_]+)":/g)].map((m) => m[1]);
      // Top-level keys only appear once: pino wrote bindings and line fields side by side before.
      expect(l.match(/"component":/g)?.length ?? 0, l).toBeLessThanOrEqual(1);
      expect(keys.filter((k) => k === 'gateway').length, l).toBeLessThanOrEqual(1);
    }
    expect(lines.filter((l) => l.includes('board profile'))).toHaveLength(1);
    expect(JSON.parse(lines.find((l) => l.includes('board profile'))!).level).toBe(30);
  });

  it('the cloud: SIGHUP names each changed key as needing a restart and keeps running', async () => {
    const config = join(dir, 'cloud.yaml');
    writeFileSync(config, 'broker: { port: 0 }\nhttp: { port: 0 }\ndataDir: ./hup-cloud\n');
    const cloud = start(['cloud', '--config', config]);
    await cloud.until('stdout', (s) => /^cloud http: /m.test(s));
    writeFileSync(config, 'broker: { port: 0, maxConnections: 10 }\nhttp: { port: 0 }\ndataDir: ./hup-cloud\n');
    cloud.child.kill('SIGHUP');
    await cloud.until('stderr', (s) => s.includes('need a restart'));
    const line = cloud.out.stderr.split('\n').find((l) => l.includes('need a restart'))!;
    expect(JSON.parse(line)).toMatchObject({ level: 40, restart: ['broker.maxConnections'] });
    expect(cloud.child.exitCode).toBeNull();
    cloud.child.kill('SIGTERM');
    await new Promise((r) => cloud.child.once('exit', r));
  });
});
