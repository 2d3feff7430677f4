/**
 * The `fieldmesh` CLI (gateway/src/cli, gateway/bin) is the one composition root that wires the
 * cloud bridge (`fieldmesh cloud`, `fieldmesh demo`). Below it the gateway never imports the
 * cloud bridge, and the CLI itself loads it in one place, at run time, so a gateway installed
 * without the cloud bridge still runs, and the two commands that need it say what to install.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCloudBridge } from '#gateway/cli/cloud-bridge-package';
import { CliError } from '#gateway/cli/errors';
import { importsOf, repoRoot, resolveRelative, sourceFiles } from './import-graph.js';

const LOADER = 'gateway/src/cli/cloud-bridge-package.ts';
const gatewayEdges = sourceFiles('gateway').flatMap(importsOf);
const bin = join(repoRoot, 'gateway/bin/fieldmesh.js');

describe('the CLI is the one composition root', () => {
  it('only the CLI refers to the cloud bridge, and only the loader loads it (the rest are erased type imports)', () => {
    const bad: string[] = [];
    let loads = 0;
    for (const e of gatewayEdges) {
      if (!/^@fieldmesh\/cloud-bridge(\/|$)/.test(e.specifier)) continue;
      if (!e.from.startsWith('gateway/src/cli/')) bad.push(`${e.from}: ${e.specifier} outside the CLI`);
      else if (e.from === LOADER && e.dynamic) loads++;
      else if (!e.typeOnly) bad.push(`${e.from}: a value import of ${e.specifier} (load it through ${LOADER})`);
    }
    expect(bad).toEqual([]);
    expect(loads).toBe(1);
  });

  it('nothing below the CLI imports the CLI, and the bin enters only through it', () => {
    const bad = gatewayEdges
      .filter((e) => e.specifier.startsWith('.') && resolveRelative(e.from, e.specifier).startsWith('gateway/src/cli/'))
      .filter((e) => !e.from.startsWith('gateway/src/cli/') && e.from !== 'gateway/bin/fieldmesh.js')
      .map((e) => `${e.from}: ${e.specifier}`);
    expect(bad).toEqual([]);
  });

  it('a missing cloud bridge is a coded CLI error naming the package; any other failure passes through', async () => {
    const missing = Object.assign(new Error("Cannot find package '@fieldmesh/cloud-bridge' imported from x"), { code: 'ERR_MODULE_NOT_FOUND' });
    const err = await loadCloudBridge(() => Promise.reject(missing)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).code).toBe('FM_ERR_CLI_CLOUD_BRIDGE_MISSING');
    const other = Object.assign(new Error("Cannot find package 'ws' imported from cloud-bridge"), { code: 'ERR_MODULE_NOT_FOUND' });
    await expect(loadCloudBridge(() => Promise.reject(other))).rejects.toBe(other);
    const loaded = await loadCloudBridge();
    expect(typeof loaded.CloudBridge.start).toBe('function');
  });

  it('a real CLI process without the cloud bridge still runs the gateway commands, and `cloud` says what to install', () => {
    // A resolve hook that makes @fieldmesh/cloud-bridge absent, as on a gateway-only install.
    const dir = mkdtempSync(join(tmpdir(), 'fm-no-cloud-'));
    const hook = join(dir, 'no-cloud-bridge.mjs');
    const resolveHook =
      "export async function resolve(s, c, next) { if (/^@fieldmesh\\/cloud-bridge(\\/|$)/.test(s)) { const e = new Error(\"Cannot find package '\" + s + \"' imported from \" + c.parentURL); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; } return next(s, c); }";
    writeFileSync(hook, `import { register } from 'node:module';\nregister('data:text/javascript,' + encodeURIComponent(${JSON.stringify(resolveHook)}));\n`);
    const run = (args: string[]) => spawnSync(process.execPath, ['--import', hook, bin, ...args], { encoding: 'utf8', cwd: dir, timeout: 60_000 });

    const help = run(['gateway', '--help']);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('usage: fieldmesh gateway');
    const cloud = run(['cloud', 'add-gateway', 'gw-x', '--config', join(dir, 'none.yaml')]);
    expect(cloud.status).not.toBe(0);
    expect(cloud.stderr).toContain('FM_ERR_CLI_CLOUD_BRIDGE_MISSING');
    expect(cloud.stderr).toContain('npm install @fieldmesh/cloud-bridge');
  });
});
