import { PACKAGE_VERSION, releaseAbove, RUNNING_RELEASE } from '../version.js';

/**
 * The release this process runs: the `version` of the `bundle-manifest.json` above this code
 * when it runs from an unpacked release, else package.json's version (a source tree). `dir` is
 * the release directory, when there is one. Without `from`, the one version.ts found at load.
 */
export function runningRelease(from?: string): { version: string; dir: string | null } {
  return (from === undefined ? RUNNING_RELEASE : releaseAbove(from)) ?? { version: PACKAGE_VERSION, dir: null };
}
