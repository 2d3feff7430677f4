import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type Clock } from '@fieldmesh/device-sdk';
import { isGatewayId } from '@fieldmesh/protocol';
import { bearerToken } from '../http/alert-routes.js';
import { readCookie, TOKEN_COOKIE } from '../http/http-access.js';
import type { FleetAdminTokens } from './admin-tokens.js';

/** Who is calling a fleet route. */
export type FleetCaller =
  | { kind: 'admin'; name: string }
  | { kind: 'viewer' }
  /** A gateway with its uplink credential (HTTP Basic): it may download bundles, nothing else. */
  | { kind: 'gateway'; id: string };

/** How long a verified gateway credential is taken without running scrypt again. */
const VERIFIED_TTL_MS = 60_000;
const MAX_CACHED = 10_000;

export interface CredentialCheck {
  verify(id: string, password: string): Promise<boolean>;
}

/**
 * Tells the three kinds of fleet caller apart. Admin: a fleet admin token as `Authorization:
 * Bearer` only (never the dashboard cookie or the query: a cross-site page could make a browser
 * send those). Viewer: a live token, or an admin token, as bearer, `?token=` or the cookie.
 * Gateway: HTTP Basic `<gateway id>:<uplink password>`, checked with the broker's credentials;
 * a verified pair is remembered for a minute, so a download resumed in many requests costs one
 * scrypt (and a rotated password stops working within that minute). With broker `auth: none`
 * (a lab) any valid gateway id is taken, as the broker takes it.
 */
export class FleetAccess {
  private readonly verified = new Map<string, number>();
  private readonly pending = new Map<string, Promise<boolean>>();

  constructor(
    private readonly admins: FleetAdminTokens,
    private readonly live: { verify(token: string | null | undefined): boolean },
    private readonly credentials: CredentialCheck | null,
    private readonly clock: Clock,
  ) {}

  async caller(req: IncomingMessage, url: URL): Promise<FleetCaller | null> {
    const bearer = bearerToken(req);
    if (bearer !== null) {
      const name = this.admins.identify(bearer);
      if (name !== null) return { kind: 'admin', name };
      return this.live.verify(bearer) ? { kind: 'viewer' } : null;
    }
    const basic = /^Basic ([A-Za-z0-9+/=]{1,400})$/.exec(req.headers.authorization ?? '')?.[1];
    if (basic !== undefined) return this.gateway(Buffer.from(basic, 'base64').toString('utf8'));
    for (const t of [url.searchParams.get('token'), readCookie(req.headers.cookie, TOKEN_COOKIE)]) {
      if (t && (this.live.verify(t) || this.admins.identify(t) !== null)) return { kind: 'viewer' };
    }
    return null;
  }

  private async gateway(pair: string): Promise<FleetCaller | null> {
    const colon = pair.indexOf(':');
    if (colon < 1) return null;
    const id = pair.slice(0, colon);
    const password = pair.slice(colon + 1);
    if (!isGatewayId(id)) return null;
    if (this.credentials === null) return { kind: 'gateway', id };
    if (password.length === 0 || password.length > 256) return null;
    const key = `${id}\0${createHash('sha256').update(password).digest('hex')}`;
    const now = this.clock.monotonic();
    const until = this.verified.get(key);
    if (until !== undefined && until > now) return { kind: 'gateway', id };
    // Concurrent requests with the same pair share one check.
    let check = this.pending.get(key);
    if (!check) {
      check = this.credentials.verify(id, password).catch(() => false);
      this.pending.set(key, check);
    }
    const ok = await check;
    this.pending.delete(key);
    if (!ok) return null;
    if (this.verified.size >= MAX_CACHED) this.verified.clear();
    this.verified.set(key, now + VERIFIED_TTL_MS);
    return { kind: 'gateway', id };
  }
}
