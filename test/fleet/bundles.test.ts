import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundlesFromCommits, type BundleName, type FleetBundle } from './bundles-from-commits.js';
import { createSandboxRoot } from './sandbox-root.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();

describe('bundles from temporary commits', () => {
  let bundles: Record<BundleName, FleetBundle>;
  let statusBefore: string;
  let headBefore: string;
  let indexBefore: Buffer;
  const dir = mkdtempSync(join(tmpdir(), 'fm-bundles-'));
  beforeAll(async () => {
    statusBefore = git('status', '--porcelain');
    headBefore = git('rev-parse', 'HEAD');
    indexBefore = readFileSync(git('rev-parse', '--git-path', 'index').replace(/^(?!\/)/u, `${repo}/`));
    bundles = await bundlesFromCommits(undefined, { log: (l) => console.error(l) });
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

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

  it('carries the deliberate faults, and first boot installs them side by side', () => {
    const sb = createSandboxRoot({ bundle: bundles.base.file, tmpParent: dir });
    for (const b of [bundles.good, bundles.crash, bundles.noUplink]) sb.unpack(b.file);
    expect(sb.current()).toBe('1.0.0');
    const crashSrc = readFileSync(join(sb.releasesDir, '1.2.0/gateway/src/cli/commands/gateway.js'), 'utf8');
    expect(crashSrc).toContain('deliberate fault');
    const uplinkSrc = readFileSync(join(sb.releasesDir, '1.3.0/gateway/src/uplink/uplink-link.js'), 'utf8');
    expect(uplinkSrc).toMatch(/replace\(.*":1\$1"\)/u);
    expect(readFileSync(join(sb.releasesDir, '1.1.0/gateway/src/cli/commands/gateway.js'), 'utf8')).not.toContain('deliberate fault');
    const run = (v: string) => spawnSync(process.execPath, [join(sb.releasesDir, v, 'gateway/bin/fieldmesh.js'), 'gateway', '--config', sb.configPath], { encoding: 'utf8', timeout: 30_000 });
    const crashed = run('1.2.0');
    expect(crashed.status).not.toBe(0);
    expect(crashed.stderr + crashed.stdout).toContain('deliberate fault');
    // A second set is the cache, byte for byte.
    sb.cleanup();
  }, 60_000);

  it('takes a second request from the cache', async () => {
    const again = await bundlesFromCommits(['good']);
    expect(again.good.sha256).toBe(bundles.good.sha256);
    expect(again.good.buildSeconds).toBe(0);
  });
});
