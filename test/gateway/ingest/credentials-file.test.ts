import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { FileCredentialStore } from '#gateway/ingest/credentials';
import { DemoSecrets } from '#gateway/cli/demo/secrets';
import { fieldmeshBin } from '../../e2e/fieldmesh-process.js';
import { scratchDirs } from '../../scratch-dirs.js';

/**
 * devices.json (and apps.json) torn by a power cut or a bad SD card must not read as "no
 * devices": the gateway would hand every configured device a new password at its start and lock
 * them all out. It refuses to start instead, and a running gateway keeps its last good copy for
 * logins but refuses changes, so the damaged file is never overwritten.
 */
const { root, fresh: freshDir } = scratchDirs('fm-cred-file-');

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [fieldmeshBin, ...args], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function goodFile(): Promise<{ dir: string; file: string; text: string; password: string }> {
  const dir = freshDir();
  const file = join(dir, 'devices.json');
  const [created] = await new FileCredentialStore(file).ensure(['d1']);
  return { dir, file, text: readFileSync(file, 'utf8'), password: created!.password };
}

const torn = (text: string): Array<[string, string | Buffer]> => [
  ['empty', ''],
  ['cut off', text.slice(0, text.length >> 1)],
  ['garbage', Buffer.from([0, 0, 0, 0, 0xff])],
  ['JSON of another shape', '{"devices":[]}'],
];

describe('devices.json written durably', () => {
  it('leaves no .tmp behind, keeps mode 0600, and a stale .tmp from a crash is harmless', async () => {
    const { dir, file, password } = await goodFile();
    expect(readdirSync(dir)).toEqual(['devices.json']);
    writeFileSync(`${file}.tmp`, '{"version":1,"devi', { mode: 0o644 });
    const store = new FileCredentialStore(file);
    expect(await store.verify('d1', Buffer.from(password))).toBe(true);
    await store.rotate('d2');
    expect(readdirSync(dir)).toEqual(['devices.json']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(new FileCredentialStore(file).has('d1')).toBe(true);
  });
});

const good = await goodFile();

describe('a damaged devices.json', () => {
  it.each(torn(good.text))('%s: refused at open with FM_ERR_BROKER_CREDENTIALS naming the file, left byte for byte', (_what, bytes) => {
    const file = join(freshDir(), 'devices.json');
    writeFileSync(file, bytes, { mode: 0o600 });
    const before = readFileSync(file);
    expect(() => new FileCredentialStore(file)).toThrow(expect.objectContaining({ code: 'FM_ERR_BROKER_CREDENTIALS', message: expect.stringContaining(`${file} `) }));
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('while running: logins go on with the last good copy, a change is refused and never overwrites the file', async () => {
    const { file, password } = await goodFile();
    const store = new FileCredentialStore(file);
    writeFileSync(file, '{"version":1,"devices":{"d1":{"sa');
    utimesSync(file, new Date(2_000_000_000_000), new Date(2_000_000_000_000));
    const before = readFileSync(file);
    expect(await store.verify('d1', Buffer.from(password))).toBe(true);
    await expect(store.rotate('d2')).rejects.toMatchObject({ code: 'FM_ERR_BROKER_CREDENTIALS', message: expect.stringMatching(/is not JSON .*it is left as it is/) });
    await expect(store.ensure(['d1', 'd3'])).rejects.toMatchObject({ code: 'FM_ERR_BROKER_CREDENTIALS' });
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(await store.verify('d1', Buffer.from(password))).toBe(true);
  });

  it('`fieldmesh gateway add-device` and a real gateway start refuse it with the code and leave it as it was', async () => {
    const dataDir = freshDir();
    const file = join(dataDir, 'devices.json');
    writeFileSync(file, good.text.slice(0, 40), { mode: 0o600 });
    const before = readFileSync(file);
    const add = await run(['gateway', 'add-device', 'd9', '--data-dir', dataDir]);
    expect(add.code).not.toBe(0);
    expect(add.stderr).toMatch(/FM_ERR_BROKER_CREDENTIALS/);
    expect(add.stderr).toContain(file);
    expect(add.stdout).not.toMatch(/password/);
    const config = join(freshDir(), 'gw.yaml');
    writeFileSync(config, stringify({ id: 'gw-cred', dataDir, broker: { port: 0, host: '127.0.0.1', auth: 'credentials', devices: ['d1', 'd2'] }, http: { port: 0, host: '127.0.0.1' }, mesh: { port: 0, bind: '127.0.0.1', mdns: false } }), { mode: 0o600 });
    const start = await run(['gateway', '--config', config, '--log-level', 'warn']);
    expect(start.code).not.toBe(0);
    expect(start.stderr).toMatch(/devices\.json is not JSON .*FM_ERR_BROKER_CREDENTIALS: Restore it from backup/);
    expect(start.stderr).not.toMatch(/^\s+at /m);
    expect(start.stdout).not.toMatch(/new device credentials/);
    expect(readFileSync(file).equals(before)).toBe(true);
  }, 60_000);
});

describe('the demo secrets file', () => {
  it('is written owner-only with nothing left beside it', () => {
    const dir = freshDir();
    const file = join(dir, 'demo-secrets.json');
    writeFileSync(`${file}.tmp`, 'stale', { mode: 0o644 });
    new DemoSecrets(file).set('gw-a', 'pw');
    expect(new DemoSecrets(file).get('gw-a')).toBe('pw');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['demo-secrets.json']);
  });
});
