import { execFile } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, readlink, rename, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { ReleaseBody } from '@fieldmesh/protocol';
import { syncDir } from '@fieldmesh/device-sdk/durable-file';
import { tarProblem } from './tar-entries.js';

/** What a bundle says about itself (hardware/src/image/bundle/build.ts writes it). */
interface BundleManifestView {
  version: string;
  commit?: string;
  machine?: string;
  nodeAbi?: string;
}

/** The top directory of a bundle tarball; its contents become `releases/<version>/`. */
export const BUNDLE_ROOT = 'fieldmesh';
/** What the launcher starts in a release. */
export const RELEASE_ENTRY = join('gateway', 'bin', 'fieldmesh.js');
const MAX_MANIFEST_BYTES = 64 * 1024;

/**
 * Unpacks a hash-checked bundle into `releases/<version>`, side by side with the running one:
 * into `<version>.partial` first (whatever a killed attempt left there is removed), then one
 * rename, so `releases/<version>` exists only complete. An existing release whose manifest
 * names this version is kept as is (the step already happened). Returns null or the problem.
 */
export async function unpackRelease(o: { tgz: string; dir: string; partial: string; body: ReleaseBody; protect: string | null }): Promise<string | null> {
  if ((await manifestProblem(o.dir, o.body)) === null) return null;
  // A broken tree at the target is replaced, never the one running.
  if (o.protect !== null && resolve(o.dir) === resolve(o.protect)) return `${o.dir} is the running release`;
  // Through `.partial`, so a kill during the removal never leaves a half tree under the release's name.
  await rm(o.partial, { recursive: true, force: true });
  await rename(o.dir, o.partial).catch(() => {});
  await rm(o.partial, { recursive: true, force: true });
  const bad = await tarProblem(o.tgz, BUNDLE_ROOT);
  if (bad !== null) return bad;
  await mkdir(o.partial, { recursive: true });
  const tar = await run('tar', ['--no-same-owner', '-xzf', o.tgz, '-C', o.partial, `--strip-components=1`]);
  if (tar !== null) {
    await rm(o.partial, { recursive: true, force: true });
    return `tar: ${tar}`;
  }
  const escaped = await linkLeavingTree(o.partial);
  const problem = escaped ?? (await manifestProblem(o.partial, o.body));
  if (problem !== null) {
    await rm(o.partial, { recursive: true, force: true });
    return problem;
  }
  await rename(o.partial, o.dir);
  syncDir(dirname(o.dir));
  return null;
}

/** Whether `dir` already holds this release, complete (a step done before a restart). */
export async function isUnpacked(dir: string, body: ReleaseBody): Promise<boolean> {
  return (await manifestProblem(dir, body)) === null;
}

/** Reads `<dir>/bundle-manifest.json` (bounded); null when there is no readable one. */
async function readBundleManifest(dir: string): Promise<BundleManifestView | null> {
  try {
    const file = join(dir, 'bundle-manifest.json');
    const st = await lstat(file);
    if (!st.isFile() || st.size > MAX_MANIFEST_BYTES) return null;
    const m = JSON.parse(await readFile(file, 'utf8')) as BundleManifestView;
    return typeof m === 'object' && m !== null && typeof m.version === 'string' ? m : null;
  } catch {
    return null;
  }
}

async function manifestProblem(dir: string, body: ReleaseBody): Promise<string | null> {
  const m = await readBundleManifest(dir);
  if (m === null) return 'no readable bundle-manifest.json in the bundle';
  if (m.version !== body.version) return `bundle-manifest.json says version ${JSON.stringify(m.version.slice(0, 30))}, the signed release ${body.version}`;
  for (const f of ['commit', 'machine', 'nodeAbi'] as const) {
    if (m[f] !== undefined && m[f] !== body[f]) return `bundle-manifest.json says ${f} ${JSON.stringify(String(m[f]).slice(0, 64))}, the signed release ${body[f]}`;
  }
  try {
    if (!(await lstat(join(dir, RELEASE_ENTRY))).isFile()) return `${RELEASE_ENTRY} is not a file`;
  } catch {
    return `the bundle has no ${RELEASE_ENTRY}`;
  }
  return null;
}

/** The first symlink under `root` whose target resolves outside it (a second check after tar). */
async function linkLeavingTree(root: string): Promise<string | null> {
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isSymbolicLink()) {
        const to = resolve(dirname(p), await readlink(p));
        const rel = relative(root, to);
        if (rel === '..' || rel.startsWith(`..${sep}`) || resolve(root, rel) !== to) return `symlink ${relative(root, p)} leaves the release`;
      }
    }
  }
  return null;
}

function run(cmd: string, args: string[]): Promise<string | null> {
  return new Promise((res) => {
    execFile(cmd, args, { timeout: 300_000, maxBuffer: 1 << 20 }, (err, _out, stderr) => res(err ? (stderr.trim().split('\n')[0] || err.message).slice(0, 300) : null));
  });
}
