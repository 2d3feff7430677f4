import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from './errors.js';

/**
 * Creates `dataDir` if missing and checks the gateway can write it, so a wrong path fails at start
 * as a config error naming `dataDir` and the fix, not as a raw EEXIST, EACCES or EROFS from deep
 * inside. Nothing is written before the check passes: a reading log on a read-only mount is
 * left exactly as it is.
 */
export function prepareDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const code = ancestorProblem(dir) ?? (err as NodeJS.ErrnoException).code;
    const what =
      code === 'EEXIST' || code === 'ENOTDIR'
        ? 'it (or a parent) is a file, not a directory'
        : code === 'EROFS'
          ? readOnly('creating it')
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied creating it'
            : (err as Error).message;
    throw new ConfigError('FM_ERR_CONFIG_DATA_DIR', 'dataDir', `${dir}: ${what}`);
  }
  if (!statSync(dir).isDirectory()) throw new ConfigError('FM_ERR_CONFIG_DATA_DIR', 'dataDir', `${dir}: it is a file, not a directory`);
  try {
    // access(2) answers EROFS for a read-only mount even to root, who bypasses permission bits.
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const what = (err as NodeJS.ErrnoException).code === 'EROFS' ? readOnly('writing it') : 'not writable by this user';
    throw new ConfigError('FM_ERR_CONFIG_DATA_DIR', 'dataDir', `${dir}: ${what}`);
  }
}

/**
 * Node's recursive mkdir reports ENOENT when a missing parent cannot be made on a read-only file
 * system; the nearest existing ancestor tells the real reason (EROFS, EACCES).
 */
function ancestorProblem(dir: string): string | undefined {
  for (let d = dirname(dir); ; d = dirname(d)) {
    if (existsSync(d)) {
      try {
        accessSync(d, constants.W_OK | constants.X_OK);
        return undefined;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code;
      }
    }
    if (dirname(d) === d) return undefined;
  }
}

function readOnly(doing: string): string {
  return `read-only file system (EROFS) ${doing}; remount it read-write (mount -o remount,rw) or set dataDir to a directory on a writable file system`;
}
