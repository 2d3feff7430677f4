import { rm } from 'node:fs/promises';
import type { RefusalReason, ReleaseBody } from '@fieldmesh/protocol';
import type { BundleSource } from './bundle-source.js';
import { bundleFile, bundlePart, partialDir, releaseDir, type FleetPaths } from './fleet-paths.js';
import { isUnpacked, unpackRelease } from './release-unpack.js';
import { roomProblem } from './release-pruning.js';

export type InstallStep = 'fetch' | 'verify' | 'unpack';

export interface InstallOptions {
  paths: FleetPaths;
  body: ReleaseBody;
  /** The desired state's path of the bundle on the cloud's HTTP API. */
  bundlePath: string;
  source: BundleSource;
  /** The running release's directory: never replaced. */
  runningDir: string | null;
  signal?: AbortSignal;
  step(step: InstallStep): void;
  /** Bundle bytes that moved, as they arrive (for metrics and the reported state). */
  progress(moved: number): void;
}

export type InstallResult = { ok: true; moved: number; resumedFrom: number } | { ok: false; step: InstallStep; reason: RefusalReason; why: string; moved: number; retry: boolean };

/**
 * Fetch, verify and unpack of one release, side by side with the running one. Each step can be
 * killed at any point and started over: the download resumes from its `.part`, a `.tgz` is always
 * hash-checked, a `.partial` tree is thrown away, and `releases/<v>` exists only complete. A
 * bundle that does not unpack as a release is refused for good (`retry: false`); a cut download
 * is tried again (`retry: true`).
 */
export async function installRelease(o: InstallOptions): Promise<InstallResult> {
  const v = o.body.version;
  if (await isUnpacked(releaseDir(o.paths, v), o.body)) return { ok: true, moved: 0, resumedFrom: o.body.bytes };
  o.step('fetch');
  const room = roomProblem([o.paths.downloadsDir, o.paths.releasesDir], o.body.bytes);
  if (room !== null) return { ok: false, step: 'fetch', reason: 'fetch-failed', why: room, moved: 0, retry: true };
  const got = await o.source.fetch({
    version: v,
    bundlePath: o.bundlePath,
    part: bundlePart(o.paths, v),
    final: bundleFile(o.paths, v),
    bytes: o.body.bytes,
    sha256: o.body.sha256,
    ...(o.signal ? { signal: o.signal } : {}),
    onProgress: (n) => o.progress(n),
  });
  if (!got.ok) return { ok: false, step: got.reason === 'hash-mismatch' ? 'verify' : 'fetch', reason: got.reason, why: got.why, moved: got.moved, retry: got.reason === 'fetch-failed' };
  o.step('verify');
  o.step('unpack');
  const problem = await unpackRelease({ tgz: bundleFile(o.paths, v), dir: releaseDir(o.paths, v), partial: partialDir(o.paths, v), body: o.body, protect: o.runningDir });
  if (problem !== null) {
    await rm(bundleFile(o.paths, v), { force: true });
    return { ok: false, step: 'unpack', reason: 'malformed', why: `bundle ${v}: ${problem}`, moved: got.moved, retry: false };
  }
  return { ok: true, moved: got.moved, resumedFrom: got.resumedFrom };
}
