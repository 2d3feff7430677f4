import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundlesFromCommits, type BundleName, type FleetBundle } from './bundles-from-commits.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();

describe('bundles from temporary commits', () => {
  let bundles: Record<BundleName, FleetBundle>;
  let statusBefore: string;
  let headBefore: string;
  let indexBefore: Buffer;
  beforeAll(async () => {
    statusBefore = git('status', '--porcelain');
    headBefore = git('rev-parse', 'HEAD');
    indexBefore = readFileSync(git('rev-parse', '--git-path', 'index').replace(/^(?!\/)/u, `${repo}/`));
    bundles = await bundlesFromCommits(undefined, { log: (l) => console.error(l) });
  }, 600_000);

  it('builds real bundles with their versions, each from its own commit on top of HEAD', () => {
    for (const [name, version] of [['base', '1.0.0'], ['good', '1.1.0'], ['crash', '1.2.0'], ['noUplink', '1.3.0']] as const) {
      const b = bundles[name];
      expect(b.manifest.version, name).toBe(version);
      expect(b.commit).not.toBe(headBefore);
      // Cached sets may come from an earlier HEAD with the same bundled trees: compare trees.
      const changed = git('diff', '--name-only', headBefore, b.commit, '--', 'package.json', 'package-lock.json', 'gateway', 'protocol', 'device-sdk', 'hardware', 'cloud-bridge').split('\n');
      expect(changed, name).toEqual(name === 'crash' ? ['gateway/src/cli/commands/gateway.ts', 'package.json'] : name === 'noUplink' ? ['gateway/src/uplink/uplink-link.ts', 'package.json'] : ['package.json']);
      expect(b.bytes).toBeGreaterThan(1 << 20);
    }
    console.error(`one bundle build: ${Math.max(...Object.values(bundles).map((b) => b.buildSeconds)).toFixed(1)} s (0 = from the cache)`);
  });

  it('leaves the working tree, the index and HEAD as they were', () => {
    expect(git('status', '--porcelain')).toBe(statusBefore);
    expect(git('rev-parse', 'HEAD')).toBe(headBefore);
    expect(readFileSync(git('rev-parse', '--git-path', 'index').replace(/^(?!\/)/u, `${repo}/`)).equals(indexBefore)).toBe(true);
  });

  it('carries the deliberate faults, and only them', () => {
    const file = (b: FleetBundle, path: string) => execFileSync('tar', ['-xzOf', b.file, `fieldmesh/${path}`], { encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(file(bundles.crash, 'gateway/src/cli/commands/gateway.js')).toContain('deliberate fault');
    expect(file(bundles.noUplink, 'gateway/src/uplink/uplink-link.js')).toMatch(/replace\(.*":1\$1"\)/u);
    expect(file(bundles.good, 'gateway/src/cli/commands/gateway.js')).not.toContain('deliberate fault');
    expect(file(bundles.good, 'gateway/src/uplink/uplink-link.js')).not.toContain('":1$1"');
    expect(JSON.parse(file(bundles.noUplink, 'bundle-manifest.json')).version).toBe('1.3.0');
  });

  it('takes a second request from the cache', async () => {
    const again = await bundlesFromCommits(['good']);
    expect(again.good.sha256).toBe(bundles.good.sha256);
    expect(again.good.buildSeconds).toBe(0);
  });
});
