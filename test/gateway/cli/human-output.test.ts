import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { bytes, count, duration, table } from '#gateway/cli/human-format';

const BIN = resolve(import.meta.dirname, '../../../gateway/bin/fieldmesh.js');
const dir = mkdtempSync(join(tmpdir(), 'fm-human-'));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, env, timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Starts a `fieldmesh` process and resolves with its stdout once `until` matches it. */
async function start(args: string[], until: RegExp): Promise<{ child: ChildProcess; stdout: () => string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no ${until} in time:\n${out}\n${err}`)), 45_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (until.test(out)) (clearTimeout(timer), res());
    });
    child.once('exit', (code, sig) => (clearTimeout(timer), rej(new Error(`exited ${code ?? sig}:\n${out}\n${err}`))));
  });
  return { child, stdout: () => out };
}

describe('numbers for a person', () => {
  it('sizes in binary units, counts grouped, durations in units, columns aligned', () => {
    expect([bytes(512), bytes(1536), bytes(5 * 2 ** 20), bytes(3.25 * 2 ** 30)]).toEqual(['512 B', '1.50 KiB', '5.00 MiB', '3.25 GiB']);
    expect(count(1234567)).toBe('1,234,567');
    expect([duration(5), duration(125), duration(7300), duration(93784)]).toEqual(['5 s', '2 min 5 s', '2 h 1 min', '1 d 2 h']);
    expect(table([['A', 'N'], ['x', '5'], ['yy', '1,000']], [1])).toBe('A       N\nx       5\nyy  1,000\n');
  });
});

describe('status, query and members against real processes', () => {
  it('a gateway: sizes in KiB/MiB, units, "no readings in that range", aligned values, a real member address', async () => {
    const config = join(dir, 'gw.yaml');
    writeFileSync(
      config,
      `id: gw-h\ndataDir: ./gw-data\nbroker: { port: 0, host: 127.0.0.1, auth: none }\nhttp: { port: 0 }\n` +
        `mesh: { port: 0, mdns: false, key: "${Buffer.alloc(32, 3).toString('base64')}" }\nrelay: { enabled: false }\n`,
    );
    const gw = await start(['gateway', '--config', config], /^http: (\S+)$/m);
    const url = /^http: (\S+)$/m.exec(gw.stdout())![1]!;
    const port = Number(/^broker: mqtt:\/\/127\.0\.0\.1:(\d+)$/m.exec(gw.stdout())![1]);

    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'th1', reconnectPeriod: 0 });
    await new Promise<void>((res, rej) => (client.once('connect', () => res()), client.once('error', rej)));
    for (const v of [21.5, 1234.25, 3])
      await client.publishAsync('fm/d/th1/senml', JSON.stringify([{ n: 'temp', u: 'Cel', v }]), { qos: 1 });
    await client.endAsync();

    const empty = await run(['query', '--url', url, '--series', 'th1/temp', '--from', '0', '--to', '1000']);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toMatch(/^no readings in that range \(th1\/temp, 1970-01-01T00:00:00.000Z … 1970-01-01T00:00:01.000Z\)$/m);

    const q = await run(['query', '--url', url, '--series', 'th1/temp', '--from', 'now-1h']);
    const lines = q.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatch(/^\S+Z {2}\s*[\d.]+ Cel$/);
    // Values right-aligned: the unit starts in the same column on every line.
    expect(new Set(lines.map((l) => l.indexOf(' Cel'))).size).toBe(1);

    const stepped = await run(['query', '--url', url, '--series', 'th1/temp', '--from', 'now-1h', '--step', '3600000']);
    expect(stepped.stdout).toMatch(/^# th1\/temp in Cel, step 3600000 ms/m);

    const st = await run(['status', '--url', url]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/^storage {3}[\d.]+ (B|KiB|MiB|GiB) of [\d.]+ (KiB|MiB|GiB|TiB) \(/m);
    expect(st.stdout).toMatch(/^ingest {4}3 readings/m);
    expect(st.stdout).not.toMatch(/\d{5,} bytes/);
    expect(st.stdout).toMatch(/^fleet {5}off$/m); // no fleet: section

    const m = await run(['members', '--url', url]);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toMatch(/^gw-h \(self\)/m);
    expect(m.stdout).not.toContain('0.0.0.0');
    expect(m.stdout).toMatch(/\d+\.\d+\.\d+\.\d+:\d+/);
    gw.child.kill('SIGTERM');
  });

  it('the cloud: status --url with its live token lists the gateways; without one it says what it needs', async () => {
    const config = join(dir, 'cloud.yaml');
    writeFileSync(config, 'broker: { port: 0 }\nhttp: { port: 0 }\ndataDir: ./cloud-data\n');
    const cloud = await start(['cloud', '--config', config], /^live token: (\S+)$/m);
    const url = /^cloud http: (\S+)$/m.exec(cloud.stdout())![1]!;
    const token = /^live token: (\S+)$/m.exec(cloud.stdout())![1]!;

    const refused = await run(['status', '--url', url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is a cloud bridge that wants its live token: pass --token TOKEN or set FM_LIVE_TOKEN/);

    const ok = await run(['status', '--url', url, '--token', token]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^cloud {5}http:\/\/127\.0\.0\.1:\d+: 0 gateways \(0 online\), 0 readings stored$/m);
    const viaEnv = await run(['status', '--url', url, '--json'], { ...process.env, FM_LIVE_TOKEN: token });
    expect(JSON.parse(viaEnv.stdout)).toEqual({ gateways: [] });
    cloud.child.kill('SIGTERM');
  });
});
