import type { IncomingMessage } from 'node:http';
import type { HostAllowlist } from '@fieldmesh/device-sdk/host-allowlist';

/** Why the cloud's HTTP server turned a request away (a metrics label). */
export type HttpRefusal = 'host' | 'token' | 'bad_request' | 'timeout';

/** The one route anyone may call: a load balancer's or systemd's liveness probe says nothing. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz']);

/** Cookie that carries the token for the dashboard's own requests after `/?token=…`. */
export const TOKEN_COOKIE = 'fm_token';

export interface TokenCheck {
  verify(token: string | null | undefined): boolean;
}

export type AccessDecision = { ok: true; setCookie?: string } | { ok: false; status: 400 | 401 | 421; reason: HttpRefusal; why: string };

/**
 * Who may read the cloud over HTTP: every route but `/healthz` needs a live token (LIVE.md), as
 * `?token=`, `Authorization: Bearer`, or the `fm_token` cookie the server sets when a page is
 * opened with a valid `?token=` (so the printed dashboard URL keeps working after the page
 * drops the token from its address bar). And every request, `/healthz` too, must name this
 * server in `Host` (host-allowlist.ts: DNS rebinding).
 */
export class HttpAccess {
  readonly refused: Record<HttpRefusal, number> = { host: 0, token: 0, bad_request: 0, timeout: 0 };

  constructor(
    private readonly tokens: TokenCheck,
    private readonly hosts: HostAllowlist,
  ) {}

  /** The Host check alone (WebSocket upgrades check their token themselves). */
  hostAllowed(req: IncomingMessage): boolean {
    if (this.hosts.allows(req.headers.host)) return true;
    this.refused.host++;
    return false;
  }

  /** The Host check as a decision, for routes that then decide who may call them (the fleet routes). */
  decideHost(req: IncomingMessage): AccessDecision {
    if (this.hostAllowed(req)) return { ok: true };
    // 421 Misdirected Request (RFC 9110 §15.5.20): this server does not answer for that name.
    return { ok: false, status: 421, reason: 'host', why: `Host ${JSON.stringify((req.headers.host ?? '').slice(0, 80))} is not a name this server answers to (add it to http.allowedHosts)` };
  }

  decide(req: IncomingMessage, url: URL): AccessDecision {
    const host = this.decideHost(req);
    if (!host.ok) return host;
    if (OPEN_PATHS.has(url.pathname)) return { ok: true };
    const fromQuery = url.searchParams.get('token');
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const cookie = readCookie(req.headers.cookie, TOKEN_COOKIE);
    for (const t of [fromQuery, bearer, cookie]) {
      if (t && this.tokens.verify(t)) {
        if (t === fromQuery && t !== cookie) {
          // HttpOnly: the page's scripts never see it; SameSite=Strict: no other site's page sends it.
          return { ok: true, setCookie: `${TOKEN_COOKIE}=${encodeURIComponent(t)}; Path=/; HttpOnly; SameSite=Strict` };
        }
        return { ok: true };
      }
    }
    this.refused.token++;
    return { ok: false, status: 401, reason: 'token', why: 'a live token is required (?token=, Authorization: Bearer, or open the dashboard URL printed at the first start)' };
  }

  badRequest(): void {
    this.refused.bad_request++;
  }

  /** node:http gave up on a connection: too slow (headers or request timeout) or unparsable. */
  clientError(code: string | undefined): void {
    if (code === 'ERR_HTTP_REQUEST_TIMEOUT') this.refused.timeout++;
    else this.refused.bad_request++;
  }
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
