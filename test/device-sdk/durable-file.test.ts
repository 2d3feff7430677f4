import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStoredJson, writeFileDurably } from '@fieldmesh/device-sdk/durable-file';
import { scratchDirs } from '../scratch-dirs.js';

/** The one durable write of the tree, on real files: what it leaves on success, after a crash, and on failure. */
const { fresh: freshDir } = scratchDirs('fm-durable-');
const modeOf = (f: string) => statSync(f).mode & 0o777;

describe('writeFileDurably', () => {
  it('writes the whole content, owner-only by default, and leaves nothing beside it', () => {
    const dir = freshDir();
    const file = join(dir, 'secret.json');
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    writeFileDurably(file, big);
    expect(readFileSync(file).equals(big)).toBe(true);
    writeFileDurably(file, '{"v":2}\n');
    expect(readFileSync(file, 'utf8')).toBe('{"v":2}\n');
    expect(modeOf(file)).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['secret.json']);
  });

  it('takes another mode for a file that is not secret', () => {
    const file = join(freshDir(), 'release.json');
    writeFileDurably(file, 'x', { mode: 0o644 });
    expect(modeOf(file)).toBe(0o644);
  });

  it('a crash between write and rename (a stale .tmp, even a readable one) is harmless: the old file stands, the next write replaces both', () => {
    const dir = freshDir();
    const file = join(dir, 'devices.json');
    writeFileDurably(file, 'old\n');
    writeFileSync(`${file}.tmp`, 'half of the ne', { mode: 0o644 });
    expect(readFileSync(file, 'utf8')).toBe('old\n');
    writeFileDurably(file, 'new\n');
    expect(readFileSync(file, 'utf8')).toBe('new\n');
    expect(modeOf(file)).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['devices.json']);
  });

  it('exclusive: creates a missing file, and never replaces one that is there (byte for byte), leaving no .tmp', () => {
    const dir = freshDir();
    const file = join(dir, 'release.key');
    writeFileDurably(file, 'first\n', { exclusive: true });
    expect(readFileSync(file, 'utf8')).toBe('first\n');
    expect(modeOf(file)).toBe(0o600);
    expect(() => writeFileDurably(file, 'second\n', { exclusive: true })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(readFileSync(file, 'utf8')).toBe('first\n');
    expect(readdirSync(dir)).toEqual(['release.key']);
  });

  it('a failed write leaves neither a .tmp nor an exclusive claim behind, and says why', () => {
    const dir = freshDir();
    const file = join(dir, 'site.json');
    // A directory where the temp file goes: the write cannot happen.
    mkdirSync(`${file}.tmp`);
    expect(() => writeFileDurably(file, 'x', { exclusive: true })).toThrow(expect.objectContaining({ code: 'EISDIR' }));
    expect(readdirSync(dir)).toEqual(['site.json.tmp']);
    expect(() => writeFileDurably(join(dir, 'missing', 'f.json'), 'x')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe('parseStoredJson', () => {
  it('reads JSON', () => {
    expect(parseStoredJson('{"v":1}\n')).toEqual({ v: 1 });
  });

  it.each([
    ['empty', '', /is empty \(0 bytes\): a write cut off by a power loss/],
    ['blank', ' \n', /is empty \(2 bytes\)/],
    ['cut off', '{"v":1,"signingKey":"abc', /is not JSON \(24 bytes, .*\): a write cut off by a power loss/],
    ['garbage', '\u0000\u0000\u0000\u0000', /is not JSON \(4 bytes/],
  ])('says plainly what is wrong with a %s file', (_what, text, why) => {
    expect(() => parseStoredJson(text)).toThrow(why);
  });
});
