import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/**
 * A temp directory for one test file, removed after it, and `fresh()`: a new empty directory in
 * it for each case, so no case sees another's files.
 */
export function scratchDirs(prefix: string): { root: string; fresh: () => string } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  return {
    root,
    fresh: () => {
      const d = join(root, `d${++n}`);
      mkdirSync(d);
      return d;
    },
  };
}
