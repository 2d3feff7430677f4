import { join } from 'node:path';
import { APP_ID, APP_USER_PREFIX, AppGrant } from '../../ingest/app-grant.js';
import { FileCredentialStore } from '../../ingest/credentials.js';
import { UsageError } from '../command.js';

export const addAppHelp = `add-app ID --read PATTERNS [--write-coils PATTERNS] [--rotate]
                creates a read-only credential for a local app (Node-RED, Home Assistant,
                a script) in <dataDir>/apps.json and prints its password once. The app logs in
                with username and client id app:ID and may subscribe to fm/r/<series> for the
                series its comma-separated PATTERNS match (e.g. 'boiler/*,*/temperature'),
                to fm/alerts/# and to fm/g/<gateway>/availability. It publishes nothing, but
                with --write-coils it may write the Modbus coils and holding registers that
                modbus: marks writable and PATTERNS match, on fm/w/<device>/<sensor> (results
                on fm/a/ID/result).`;

/** `fieldmesh gateway add-app ID --read PATTERNS [--rotate]`; returns the exit code. */
export async function addApp(dataDir: string, rest: string[], flags: Record<string, string | boolean>): Promise<number> {
  const id = rest[1];
  if (rest.length !== 2 || id === undefined) throw new UsageError('add-app needs exactly one app id');
  if (!APP_ID.test(id)) throw new UsageError(`app id ${JSON.stringify(id)} is not valid (letters, digits, _ . -; up to 64)`);
  if (typeof flags.read !== 'string' || flags.read.trim() === '') throw new UsageError("add-app needs --read PATTERNS, e.g. --read 'boiler/*,*/temperature' (or '*/*' for every series)");
  const read = flags.read.split(',').map((p) => p.trim()).filter((p) => p !== '');
  try {
    new AppGrant(id, read);
  } catch (err) {
    throw new UsageError(`--read: ${(err as Error).message}`);
  }
  const write = typeof flags['write-coils'] === 'string' ? flags['write-coils'].split(',').map((p) => p.trim()).filter((p) => p !== '') : [];
  try {
    new AppGrant(id, read, write);
  } catch (err) {
    throw new UsageError(`--write-coils: ${(err as Error).message}`);
  }
  const file = join(dataDir, 'apps.json');
  const store = new FileCredentialStore(file);
  if (store.has(id) && !flags.rotate) {
    process.stderr.write(`fieldmesh gateway: app ${id} already has credentials; pass --rotate to replace them (and its read patterns)\n`);
    return 1;
  }
  const password = await store.rotate(id, read, write);
  process.stdout.write(
    `app: ${id}\nusername: ${APP_USER_PREFIX}${id}\npassword: ${password}\nread: ${read.join(', ')}\n${write.length ? `write: ${write.join(', ')}\n` : ''}` +
      `(shown once; kept in ${file}; log in with username and client id ${APP_USER_PREFIX}${id})\n`,
  );
  return 0;
}
