import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** gateway/package.json's version: what a source tree runs as. */
export const PACKAGE_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * The release directory above `from` and its version, when the code runs from an unpacked
 * release (`releases/<v>/gateway/dist/…` or `…/gateway/src/…`: a `bundle-manifest.json` at most
 * five levels up); null in a source tree.
 */
export function releaseAbove(from: string): { version: string; dir: string } | null {
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
  return null;
}

/**
 * The release this code runs from (looked for once, at load), and the version this gateway runs
 * as, reported by `fieldmesh_build_info`, `--version`, its mesh metadata, Home Assistant and the
 * reading log's schema record: its release's version when it runs from a release (the fleet
 * installs releases by version), else package.json's.
 */
export const RUNNING_RELEASE = releaseAbove(fileURLToPath(import.meta.url));
export const GATEWAY_VERSION: string = RUNNING_RELEASE?.version ?? PACKAGE_VERSION;
