import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  compareVersions,
  fixedSectionIn,
  generateReleaseKey,
  isReleaseVersion,
  releaseKeyId,
  signArtifact,
  verifyArtifact,
  type ConfigBody,
  type ReleaseBody,
  type RollbackBody,
} from '@fieldmesh/protocol';

const vectors = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../protocol/vectors/fleet/v1-artifacts.json'), 'utf8'));
const vectorKey = { signingKey: vectors.signingKey as string, publicKey: vectors.publicKey as string };
const release = (over: Partial<ReleaseBody> = {}): ReleaseBody => ({
  kind: 'release', version: '1.2.0', sha256: 'cd'.repeat(32), bytes: 10, commit: 'abc', machine: 'x86_64', nodeAbi: '115', createdAt: new Date(0).toISOString(), ...over,
});

describe('fleet artifacts (FLEET-FORMAT.md §2)', () => {
  it('replays the vectors byte for byte: canonical JSON, key id and the deterministic signatures', () => {
    expect(releaseKeyId(vectors.publicKey)).toBe(vectors.keyId);
    for (const kind of ['release', 'config'] as const) {
      const env = vectors[kind].envelope;
      expect(canonicalJson(env.body)).toBe(vectors[kind].canonical);
      expect(signArtifact(env.body, vectorKey)).toEqual(env);
      expect(verifyArtifact(env, kind, [vectors.publicKey])).toEqual({ ok: true, body: env.body });
    }
  });

  it('verifies with OpenSSL too: the signed bytes are the context string and the canonical body', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fm-fleet-vec-'));
    const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(vectors.publicKey, 'base64')]);
    writeFileSync(join(dir, 'pub.der'), der);
    writeFileSync(join(dir, 'msg'), Buffer.from(`fieldmesh fleet artifact v1\0${vectors.release.canonical}`));
    writeFileSync(join(dir, 'sig'), Buffer.from(vectors.release.envelope.sig, 'base64'));
    const out = execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-keyform', 'DER', '-inkey', join(dir, 'pub.der'), '-rawin', '-in', join(dir, 'msg'), '-sigfile', join(dir, 'sig')], { encoding: 'utf8' });
    expect(out).toMatch(/Signature Verified Successfully/);
  });

  it('survives re-serialisation: key order and whitespace of the envelope do not matter', () => {
    const key = generateReleaseKey();
    const env = signArtifact(release(), key);
    const shuffled = JSON.parse(JSON.stringify({ sig: env.sig, keyId: env.keyId, body: Object.fromEntries(Object.entries(env.body).reverse()) }, null, 2));
    expect(verifyArtifact(shuffled, 'release', [key.publicKey]).ok).toBe(true);
  });

  it('tells unsigned, another key, altered, wrong kind and malformed apart, never throwing', () => {
    const key = generateReleaseKey();
    const other = generateReleaseKey();
    const env = signArtifact(release(), key);
    const check = (raw: unknown, kind: 'release' | 'config' | 'rollback' = 'release', keys = [key.publicKey]) => {
      const r = verifyArtifact(raw, kind, keys);
      return r.ok ? 'ok' : r.reason;
    };
    expect(check(env)).toBe('ok');
    expect(check({ body: env.body, keyId: env.keyId })).toBe('unsigned');
    expect(check({ ...env, sig: '' })).toBe('unsigned');
    expect(check(env, 'release', [other.publicKey])).toBe('wrong-key');
    expect(check(env, 'release', [other.publicKey, key.publicKey])).toBe('ok');
    expect(check(signArtifact(release(), other))).toBe('wrong-key');
    expect(check({ ...env, body: { ...env.body, version: '9.9.9' } })).toBe('bad-signature');
    expect(check({ ...env, body: { ...env.body, sha256: 'ef'.repeat(32) } })).toBe('bad-signature');
    expect(check({ ...env, keyId: other.keyId })).toBe('wrong-key');
    expect(check({ ...env, sig: 'x'.repeat(88) })).toBe('bad-signature');
    expect(check(env, 'config')).toBe('malformed');
    for (const hostile of [null, 3, 'x', [], { body: null, sig: 'a' }, { body: { kind: 'release' }, sig: 'a' }, { body: { ...env.body, version: '../../etc' }, sig: env.sig, keyId: env.keyId },
      { body: { ...env.body, bytes: -1 }, sig: env.sig, keyId: env.keyId }, { body: { ...env.body, createdAt: 'never' }, sig: env.sig, keyId: env.keyId }]) {
      expect(['malformed', 'unsigned']).toContain(check(hostile));
    }
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(check({ body: { ...env.body, deep }, sig: env.sig, keyId: env.keyId })).toBe('malformed');
    expect(check({ body: { ...env.body, pad: 'x'.repeat(60_000) }, sig: env.sig, keyId: env.keyId })).toBe('malformed');
  });

  it('checks config and rollback bodies, and names the sections a revision may not replace', () => {
    const key = generateReleaseKey();
    const config: ConfigBody = { kind: 'config', revision: 3, sections: { rules: [] }, createdAt: new Date(0).toISOString() };
    expect(verifyArtifact(signArtifact(config, key), 'config', [key.publicKey]).ok).toBe(true);
    expect(fixedSectionIn(config)).toBeNull();
    expect(fixedSectionIn({ ...config, sections: { rules: [], dataDir: '/tmp' } })).toBe('dataDir');
    expect(fixedSectionIn({ ...config, sections: { id: 'gw-b' } })).toBe('id');
    expect(() => signArtifact({ ...config, revision: 0 }, key)).toThrow(/revision/);
    const rollback: RollbackBody = { kind: 'rollback', order: 1, version: '1.0.0', createdAt: new Date(0).toISOString() };
    expect(verifyArtifact(signArtifact(rollback, key), 'rollback', [key.publicKey]).ok).toBe(true);
    expect(() => signArtifact({ kind: 'rollback', order: 2, createdAt: new Date(0).toISOString() }, key)).toThrow(/names a version/);
  });
});

describe('release versions', () => {
  it('orders MAJOR.MINOR.PATCH numerically and refuses anything else', () => {
    expect(compareVersions('1.10.0', '1.9.3')).toBe(1);
    expect(compareVersions('1.2.3', '1.2.3')).toBe(0);
    expect(compareVersions('0.9.9', '1.0.0')).toBe(-1);
    for (const bad of ['1.2', '1.2.3-rc1', '01.2.3', '1.2.3.4', '../1.2.3', '1.2.3 ', '', '1234567.0.0']) expect(isReleaseVersion(bad)).toBe(false);
    expect(() => compareVersions('1.2', '1.2.0')).toThrow(RangeError);
  });
});
