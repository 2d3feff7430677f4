import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseStoredJson, writeFileDurably } from '@fieldmesh/device-sdk/durable-file';

interface TokenEntry {
  name: string;
  /** SHA-256 of the token, hex: tokens are 256 random bits, so no slow hash is needed, and a copied file gives no access. */
  sha256: string;
  created: number;
}

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/**
 * A file of named bearer tokens kept as hashes, `{"v":1,"tokens":[{"name","sha256","created"}]}`
 * (0600): the live tokens and the fleet admin tokens. The file is re-read when it changes, so a
 * token issued by a second process (`fieldmesh cloud add-…-token`) works in a running bridge at
 * once. `malformed` makes the owner's coded error for a file that is not in that shape, empty or
 * cut off included: only a missing file means no tokens, and `issue` never writes over a damaged one.
 */
export class HashedTokenFile {
  private entries: TokenEntry[] = [];
  /** mtime and inode of the file read last: a rewrite renames a new file in, so the inode changes even within one mtime tick. */
  private loaded = '';

  constructor(
    readonly file: string,
    private readonly malformed: (why: string) => Error,
  ) {
    this.reloadIfChanged();
  }

  /** Throws `malformed` for an unreadable file; no file means no tokens. */
  reloadIfChanged(): void {
    // One stat per check (each token check calls this): no file means no tokens.
    const st = statSync(this.file, { throwIfNoEntry: false });
    if (st === undefined) {
      this.entries = [];
      this.loaded = '';
      return;
    }
    const stamp = `${st.mtimeMs}:${st.ino}`;
    if (stamp === this.loaded) return;
    let parsed: unknown;
    try {
      parsed = parseStoredJson(readFileSync(this.file, 'utf8'));
    } catch (err) {
      throw this.malformed(`${this.file}: ${(err as Error).message}`);
    }
    const list = (parsed as { tokens?: unknown })?.tokens;
    if (!Array.isArray(list) || !list.every((e) => typeof e?.name === 'string' && typeof e?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256))) {
      throw this.malformed(`${this.file}: expected {"v":1,"tokens":[{"name","sha256","created"}]}`);
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
    this.reloadIfChanged();
    const token = randomBytes(32).toString('base64url');
    this.entries = [...this.entries.filter((e) => e.name !== name), { name, sha256: digest(token).toString('hex'), created: now }];
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileDurably(this.file, JSON.stringify({ v: 1, tokens: this.entries }, null, 2) + '\n');
    const st = statSync(this.file);
    this.loaded = `${st.mtimeMs}:${st.ino}`;
    return token;
  }

  /**
   * The name of the token's entry, or null. Every entry is compared, so the time does not tell
   * which matched. Never throws: a file broken while running refuses every token.
   */
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
