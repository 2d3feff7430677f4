import { once } from 'node:events';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadOriginKey, originKeyFile } from '#gateway/uplink/origin-key';
import { FieldmeshProcess } from '../../e2e/fieldmesh-process.js';
import { scratchDirs } from '../../scratch-dirs.js';

/**
 * The gateway's origin key is its identity at the cloud: a key file a power cut or a bad SD card
 * damaged must stop the start with a clear error, never be replaced by a new key (the cloud
 * would refuse every batch signed with it).
 */
const { fresh: freshDir } = scratchDirs('fm-origin-key-');
const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    return `${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
  return 'no error';
};

/** A good key file, made the way the gateway makes it. */
function madeKey(): { dir: string; text: string; publicKey: string } {
  const dir = freshDir();
  const k = loadOriginKey(dir, null);
  return { dir, text: readFileSync(originKeyFile(dir), 'utf8'), publicKey: k.publicKey };
}

describe('origin-key.json', () => {
  it('is made once, owner-only, with nothing left beside it, and read back as the same key', () => {
    const dir = freshDir();
    const first = loadOriginKey(dir, null);
    expect(first.source).toBe('new');
    expect(statSync(originKeyFile(dir)).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['origin-key.json']);
    const again = loadOriginKey(dir, null);
    expect(again).toMatchObject({ source: 'file', publicKey: first.publicKey });
  });

  it('a crash between write and rename at the first start (a stale .tmp, no file) makes the key then, and leaves no .tmp', () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'origin-key.json.tmp'), '{"v":1,"signingKey":"hal');
    const k = loadOriginKey(dir, null);
    expect(k.source).toBe('new');
    expect(readdirSync(dir)).toEqual(['origin-key.json']);
    expect(loadOriginKey(dir, null).publicKey).toBe(k.publicKey);
  });

  it('a stale .tmp beside a good file changes nothing', () => {
    const { dir, text, publicKey } = madeKey();
    writeFileSync(join(dir, 'origin-key.json.tmp'), 'garbage');
    expect(loadOriginKey(dir, null)).toMatchObject({ source: 'file', publicKey });
    expect(readFileSync(originKeyFile(dir), 'utf8')).toBe(text);
  });

  const good = madeKey();
  const other = madeKey();
  const damaged: Array<[string, string | Buffer, RegExp]> = [
    ['empty', '', /is empty/],
    ['cut off', good.text.slice(0, good.text.length >> 1), /is not JSON/],
    ['garbage', Buffer.from([0xff, 0x00, 0x13, 0x37, 0xfe]), /is not JSON/],
    ['JSON without a key', '{"v":1}\n', /has no "signingKey"/],
    ['a key that is not 32 bytes', '{"v":1,"signingKey":"AAAA"}\n', /signing key/i],
    ['a signing key not of its public key (a flipped bit)', good.text.replace(/"publicKey":"[^"]+"/, `"publicKey":"${other.publicKey}"`), /does not belong to its publicKey/],
  ];

  it.each(damaged)('%s: FM_ERR_UPLINK_ORIGIN_KEY naming the file and the fix; no new key, the file byte for byte as it was', (_what, bytes, why) => {
    const dir = freshDir();
    const file = originKeyFile(dir);
    writeFileSync(file, bytes, { mode: 0o600 });
    const before = readFileSync(file);
    const msg = codeOf(() => loadOriginKey(dir, null));
    expect(msg).toMatch(/^FM_ERR_UPLINK_ORIGIN_KEY: /);
    expect(msg).toContain(file);
    expect(msg).toMatch(why);
    expect(msg).toMatch(/no new key is made/);
    expect(msg).toMatch(/Restore the file from a backup.*fieldmesh cloud add-gateway ID --rotate --public-key NEW/);
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(['origin-key.json']);
  });

  it('a configured uplink.signingKey is used without reading the file (the way out without a backup)', () => {
    const dir = freshDir();
    writeFileSync(originKeyFile(dir), '');
    const signingKey = (JSON.parse(good.text) as { signingKey: string }).signingKey;
    expect(loadOriginKey(dir, signingKey)).toMatchObject({ source: 'config', publicKey: good.publicKey });
  });
});

describe('a real gateway process with a damaged origin-key.json', () => {
  async function startGateway(dataDir: string, untilLine: RegExp | null): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const config = join(freshDir(), 'gw.yaml');
    const cfg = { id: 'gw-key', dataDir, broker: { port: 0, host: '127.0.0.1', auth: 'none' }, http: { port: 0, host: '127.0.0.1' }, mesh: { port: 0, bind: '127.0.0.1', mdns: false } };
    writeFileSync(config, stringify(cfg), { mode: 0o600 });
    const p = new FieldmeshProcess(['gateway', '--config', config, '--log-level', 'warn']);
    const exited = once(p.child, 'exit') as Promise<[number | null]>;
    const timer = setTimeout(() => void p.kill('SIGKILL'), 30_000);
    try {
      if (untilLine !== null) {
        await p.waitForLine(untilLine, 30_000);
        await p.kill('SIGTERM');
      }
      const [code] = await exited;
      return { code, stdout: p.stdout, stderr: p.stderrTail };
    } finally {
      clearTimeout(timer);
    }
  }

  it('the first start makes and prints the key; after the file is cut off, the start fails with the coded error and the file stays as it was', async () => {
    const dataDir = join(freshDir(), 'data');
    const first = await startGateway(dataDir, /^origin key: (\S+)$/m);
    const printed = /^origin key: (\S+)$/m.exec(first.stdout)![1];
    const file = originKeyFile(dataDir);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(printed);
    expect(readdirSync(dataDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    writeFileSync(file, text.slice(0, 20));
    const torn = readFileSync(file);
    const r = await startGateway(dataDir, null);
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toMatch(/FM_ERR_UPLINK_ORIGIN_KEY/);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/fieldmesh cloud add-gateway ID --rotate --public-key NEW/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stdout).not.toMatch(/^origin key:/m);
    expect(readFileSync(file).equals(torn)).toBe(true);

    writeFileSync(file, '');
    const empty = await startGateway(dataDir, null);
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toMatch(/origin-key\.json: is empty .*FM_ERR_UPLINK_ORIGIN_KEY/);
    expect(readFileSync(file, 'utf8')).toBe('');
  }, 90_000);
});
