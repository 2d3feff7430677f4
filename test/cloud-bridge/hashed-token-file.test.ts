import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HashedTokenFile } from '#cloud-bridge/http/hashed-token-file';
import { LiveTokens } from '#cloud-bridge/live/live-tokens';
import { tempDir } from './cloud-fixture.js';

describe('hashed token files (live and fleet admin tokens)', () => {
  const tmp = tempDir('fm-tokens-');
  afterAll(() => tmp.cleanup());
  const fail = (why: string) => new Error(`MALFORMED ${why}`);

  it('keeps only hashes (0600), and a token issued by another process works at once', () => {
    const file = join(tmp.dir, 'a.json');
    const running = new HashedTokenFile(file, fail);
    expect(running.identify('anything')).toBeNull();
    const token = new HashedTokenFile(file, fail).issue('ops', 1);
    expect(readFileSync(file, 'utf8')).not.toContain(token);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(running.identify(token)).toBe('ops');
    expect(running.identify(token.slice(1))).toBeNull();
    expect(running.identify('x'.repeat(10_000))).toBeNull();
    const again = running.issue('ops', 2);
    expect(running.identify(token)).toBeNull();
    expect(running.identify(again)).toBe('ops');
    expect(running.names()).toEqual(['ops']);
  });

  it('refuses a malformed file at open with the owner error, and refuses every token if it breaks later', () => {
    const file = join(tmp.dir, 'b.json');
    writeFileSync(file, '{"tokens":[{"name":"x","sha256":"nothex"}]}');
    expect(() => new HashedTokenFile(file, fail)).toThrow(/MALFORMED .*expected/);
    const good = join(tmp.dir, 'c.json');
    const store = new HashedTokenFile(good, fail);
    const token = store.issue('ops', 1);
    writeFileSync(good, 'not json');
    expect(store.identify(token)).toBeNull();
  });

  it('live tokens: the first open issues one default token, later opens issue none', () => {
    const file = join(tmp.dir, 'live.json');
    const first = LiveTokens.open(file, 1);
    expect(first.issued).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const second = LiveTokens.open(file, 2);
    expect(second.issued).toBeNull();
    expect(second.tokens.verify(first.issued)).toBe(true);
    expect(second.tokens.identify(first.issued)).toBe('default');
  });
});
