import { join } from 'node:path';
import { CloudError } from '../errors.js';
import { HashedTokenFile } from '../http/hashed-token-file.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export function fleetAdminTokensFile(dataDir: string): string {
  return join(dataDir, 'fleet-admin-tokens.json');
}

/**
 * Fleet admin tokens: the only credential that changes what gateways run (uploads, desired
 * state, rollouts). Kept as hashes in `<dataDir>/fleet-admin-tokens.json` (0600,
 * hashed-token-file.ts), apart from the live tokens a dashboard holds, so a leaked viewer link
 * cannot push a release. None exists until `fieldmesh cloud add-admin-token NAME` issues one
 * (printed once); a running bridge takes a new token at once.
 */
export class FleetAdminTokens {
  private readonly store: HashedTokenFile;

  constructor(readonly file: string) {
    this.store = new HashedTokenFile(file, (why) => new CloudError('FM_ERR_CLOUD_ADMIN_TOKENS', why));
  }

  names(): string[] {
    return this.store.names();
  }

  /** Issues a token named `name` (replacing one of that name) and returns it; only its hash is kept. */
  issue(name: string, now: number): string {
    if (!NAME.test(name)) throw new CloudError('FM_ERR_CLOUD_ADMIN_TOKENS', `token name ${JSON.stringify(name.slice(0, 80))} must be 1-64 of [A-Za-z0-9_.@-]`);
    return this.store.issue(name, now);
  }

  /** The name of the token's entry, or null. Never throws. */
  identify(token: string | null | undefined): string | null {
    return this.store.identify(token);
  }
}
