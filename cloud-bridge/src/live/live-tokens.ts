import { existsSync } from 'node:fs';
import { HashedTokenFile } from '../http/hashed-token-file.js';
import { LiveError } from './errors.js';

/**
 * Tokens for live subscribers (dashboards, WebSocket and MQTT-over-WebSocket clients), kept as
 * hashes in `<dataDir>/live-tokens.json` (hashed-token-file.ts). On first start one token is
 * issued and handed back once for printing; there is no default token.
 */
export class LiveTokens {
  private constructor(private readonly store: HashedTokenFile) {}

  /** Opens the token file, creating it with one new token if missing; `issued` is that token (else null). */
  static open(file: string, now: number): { tokens: LiveTokens; issued: string | null } {
    const existed = existsSync(file);
    const tokens = new LiveTokens(new HashedTokenFile(file, (why) => new LiveError('FM_ERR_LIVE_TOKENS', why)));
    return { tokens, issued: existed ? null : tokens.issue('default', now) };
  }

  /** Issues a new token named `name` and returns it; only its hash is kept. */
  issue(name: string, now: number): string {
    return this.store.issue(name, now);
  }

  /** Constant-time comparison against every token's hash. */
  verify(token: string | null | undefined): boolean {
    return this.identify(token) !== null;
  }

  /** The name of the token's entry (who is acting, for records such as an alert acknowledgement), or null. */
  identify(token: string | null | undefined): string | null {
    return this.store.identify(token);
  }
}
