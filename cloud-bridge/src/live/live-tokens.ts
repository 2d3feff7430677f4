import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { LiveError } from './errors.js';

interface TokenEntry {
  name: string;
  /** SHA-256 of the token, hex: a copied file does not give access (tokens are 256 random bits, so no slow hash is needed). */
  sha256: string;
  created: number;
}

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/**
 * Tokens for live subscribers (dashboards, WebSocket and MQTT-over-WebSocket clients), kept as
 * hashes in `<dataDir>/live-tokens.json`. On first start one token is issued and handed back once
 * for printing; there is no default token.
 */
export class LiveTokens {
  private constructor(
    private readonly file: string,
    private entries: TokenEntry[],
  ) {}

  /** Opens the token file, creating it with one new token if missing; `issued` is that token (else null). */
  static open(file: string, now: number): { tokens: LiveTokens; issued: string | null } {
    if (!existsSync(file)) {
      const tokens = new LiveTokens(file, []);
      const issued = tokens.issue('default', now);
      return { tokens, issued };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new LiveError('FM_ERR_LIVE_TOKENS', `${file}: ${(err as Error).message}`);
    }
    const list = (parsed as { tokens?: unknown })?.tokens;
    if (!Array.isArray(list) || !list.every((e) => typeof e?.name === 'string' && typeof e?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256))) {
      throw new LiveError('FM_ERR_LIVE_TOKENS', `${file}: expected {"v":1,"tokens":[{"name","sha256","created"}]}`);
    }
    return { tokens: new LiveTokens(file, list as TokenEntry[]), issued: null };
  }

  /** Issues a new token named `name` and returns it; only its hash is kept. */
  issue(name: string, now: number): string {
    const token = randomBytes(32).toString('base64url');
    this.entries = [...this.entries.filter((e) => e.name !== name), { name, sha256: digest(token).toString('hex'), created: now }];
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ v: 1, tokens: this.entries }, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
    return token;
  }

  /** Constant-time comparison against every token's hash. */
  verify(token: string | null | undefined): boolean {
    return this.identify(token) !== null;
  }

  /** The name of the token's entry (who is acting, for records such as an alert acknowledgement), or null. */
  identify(token: string | null | undefined): string | null {
    if (typeof token !== 'string' || token.length === 0 || token.length > 200) return null;
    const d = digest(token);
    let name: string | null = null;
    // Every entry is compared, so the time does not tell which one matched.
    for (const e of this.entries) if (timingSafeEqual(d, Buffer.from(e.sha256, 'hex'))) name = e.name;
    return name;
  }
}
