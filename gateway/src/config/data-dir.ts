import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { ConfigError } from './errors.js';

/**
 * Creates `dataDir` if missing and checks the gateway can write it, so a wrong path fails at start
 * as a config error naming `dataDir` and the fix, not as a raw EEXIST or EACCES from deep inside.
 */
export function prepareDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const what = code === 'EEXIST' || code === 'ENOTDIR' ? 'it (or a parent) is a file, not a directory' : code === 'EACCES' || code === 'EPERM' ? 'permission denied creating it' : (err as Error).message;
    throw new ConfigError('FM_ERR_CONFIG_DATA_DIR', 'dataDir', `${dir}: ${what}`);
  }
  if (!statSync(dir).isDirectory()) throw new ConfigError('FM_ERR_CONFIG_DATA_DIR', 'dataDir', `${dir}: it is a file, not a directory`);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new ConfigError('FM_ERR_CONFIG_DATA_DIR', 'dataDir', `${dir}: not writable by this user`);
  }
}
