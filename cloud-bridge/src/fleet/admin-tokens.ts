import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CloudError } from '../errors.js';

interface TokenEntry {
  name: string;
  /** SHA-256 of the token, hex: tokens are 256 random bits, so no slow hash is needed, and a copied file gives no access. */
  sha256: string;
  created: number;
}

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export function fleetAdminTokensFile(dataDir: string): string {
  return join(dataDir, 'fleet-admin-tokens.json');
}

/**
 * Fleet admin tokens: the only credential that changes what gateways run (uploads, desired
 * state, rollouts). Kept as hashes in `<dataDir>/fleet-admin-tokens.json` (0600), apart from
 * the live tokens a dashboard holds, so a leaked viewer link cannot push a release. None exists
 * until `fieldmesh cloud add-admin-token NAME` issues one (printed once). The file is re-read
 * when it changes, so a running bridge takes a new token at once.
 */
export class FleetAdminTokens {
  private entries: TokenEntry[] = [];
  /** mtime and inode of the file read last: a rewrite renames a new file in, so the inode changes even within one mtime tick. */
  private loaded = '';

  constructor(readonly file: string) {
    this.reloadIfChanged();
  }

  private reloadIfChanged(): void {
    if (!existsSync(this.file)) {
      this.entries = [];
      this.loaded = '';
      return;
    }
    const st = statSync(this.file);
    const stamp = `${st.mtimeMs}:${st.ino}`;
    if (stamp === this.loaded) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (err) {
      throw new CloudError('FM_ERR_CLOUD_ADMIN_TOKENS', `${this.file}: ${(err as Error).message}`);
    }
    const list = (parsed as { tokens?: unknown })?.tokens;
    if (!Array.isArray(list) || !list.every((e) => typeof e?.name === 'string' && typeof e?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256))) {
      throw new CloudError('FM_ERR_CLOUD_ADMIN_TOKENS', `${this.file}: expected {"v":1,"tokens":[{"name","sha256","created"}]}`);
    }
    this.entries = list as TokenEntry[];
    this.loaded = stamp;
  }

  names(): string[] {
    this.reloadIfChanged();
    return this.entries.map((e) => e.name);
  }

  /** Issues a token named `name` (replacing one of that name) and returns it; only its hash is kept. */
  issue(name: string, now: number): string {
    if (!NAME.test(name)) throw new CloudError('FM_ERR_CLOUD_ADMIN_TOKENS', `token name ${JSON.stringify(name.slice(0, 80))} must be 1-64 of [A-Za-z0-9_.@-]`);
    this.reloadIfChanged();
    const token = randomBytes(32).toString('base64url');
    this.entries = [...this.entries.filter((e) => e.name !== name), { name, sha256: digest(token).toString('hex'), created: now }];
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ v: 1, tokens: this.entries }, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
    const st = statSync(this.file);
    this.loaded = `${st.mtimeMs}:${st.ino}`;
    return token;
  }

  /** The name of the token's entry, or null. Every entry is compared, so the time does not tell which matched. Never throws. */
  identify(token: string | null | undefined): string | null {
    if (typeof token !== 'string' || token.length === 0 || token.length > 200) return null;
    try {
      this.reloadIfChanged();
    } catch {
      return null;
    }
    const d = digest(token);
    let name: string | null = null;
    for (const e of this.entries) if (timingSafeEqual(d, Buffer.from(e.sha256, 'hex'))) name = e.name;
    return name;
  }
}
