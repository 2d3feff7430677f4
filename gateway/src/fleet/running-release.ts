import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GATEWAY_VERSION } from '../version.js';

/**
 * The release this process runs: the `version` of the `bundle-manifest.json` above this code
 * when it runs from an unpacked release (`releases/<v>/gateway/dist/…` or `…/gateway/src/…`),
 * else package.json's version (a source tree). `dir` is the release directory, when there is one.
 */
export function runningRelease(from: string = fileURLToPath(import.meta.url)): { version: string; dir: string | null } {
  let dir = dirname(from);
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'bundle-manifest.json');
    try {
      if (statSync(file).size <= 64 * 1024) {
        const m = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown };
        if (typeof m.version === 'string' && m.version.length <= 22) return { version: m.version, dir };
      }
    } catch {
      // Not here: one level up.
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return { version: GATEWAY_VERSION, dir: null };
}
