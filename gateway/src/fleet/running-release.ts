import { fileURLToPath } from 'node:url';
import { PACKAGE_VERSION, releaseAbove } from '../version.js';

/**
 * The release this process runs: the `version` of the `bundle-manifest.json` above this code
 * when it runs from an unpacked release, else package.json's version (a source tree). `dir` is
 * the release directory, when there is one.
 */
export function runningRelease(from: string = fileURLToPath(import.meta.url)): { version: string; dir: string | null } {
  return releaseAbove(from) ?? { version: PACKAGE_VERSION, dir: null };
}
