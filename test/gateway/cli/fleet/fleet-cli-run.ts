import { execFile } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../../../../gateway/bin/fieldmesh.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `fieldmesh` CLI (as an operator would) in `cwd`, without the caller's fleet env. */
export function runCli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  const base = { ...process.env };
  delete base.FM_CLOUD_URL;
  delete base.FM_FLEET_TOKEN;
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: { ...base, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/**
 * A bundle-shaped .tgz made with the system's tar: one top directory `fieldmesh/` with a
 * bundle-manifest.json (fields as `npm run bundle` writes them) and a payload file.
 */
export function makeBundle(dir: string, name: string, manifest: Record<string, unknown> | null, payload = 'console.log("gateway")\n'): string {
  const stage = join(dir, `${name}-stage`);
  mkdirSync(join(stage, 'fieldmesh', 'gateway'), { recursive: true });
  writeFileSync(join(stage, 'fieldmesh', 'gateway', 'main.js'), payload);
  if (manifest) writeFileSync(join(stage, 'fieldmesh', 'bundle-manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  const out = join(dir, `${name}.tgz`);
  execFileSync('tar', ['-czf', out, '-C', stage, 'fieldmesh']);
  return out;
}

export const manifestOf = (version: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({
  format: 1,
  name: 'fieldmesh',
  version,
  commit: 'a1b2c3d4e5f6',
  machine: 'x86_64',
  platform: 'linux',
  nodeAbi: '115',
  node: 'v20.19.0',
  native: [],
  prebuiltArm64: [],
  ...over,
});
