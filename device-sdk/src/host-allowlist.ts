import { isIP } from 'node:net';
import { hostname } from 'node:os';

/**
 * Which `Host` header values an HTTP server on a gateway or the cloud answers. A bind to
 * 127.0.0.1 does not stop DNS rebinding: a page from attacker.example resolves its own name to
 * 127.0.0.1 and the browser then sends `Host: attacker.example` to the local server with the
 * page's script reading the answer. Refusing names the server does not go by closes that.
 *
 * Allowed: an IP literal (v4, or v6 in brackets, any port): a rebinding attack always carries
 * a name; `localhost` and names under it (RFC 6761 §6.3); this machine's host name and
 * `<hostname>.local` (mDNS); and the configured extra names (a reverse proxy's public name).
 * Compared case-insensitively, a trailing dot ignored.
 */
export class HostAllowlist {
  private readonly names: Set<string>;

  constructor(extra: readonly string[] = [], machine = hostname()) {
    const m = normalise(machine);
    this.names = new Set([m, `${m}.local`, ...extra.map(normalise)]);
  }

  /** Whether a request with this `Host` header (undefined = absent) is for this server. */
  allows(host: string | undefined): boolean {
    if (host === undefined || host.length === 0 || host.length > 255) return false;
    let name: string;
    if (host.startsWith('[')) {
      const end = host.indexOf(']');
      if (end < 0) return false;
      name = host.slice(1, end);
      if (!/^(:\d{1,5})?$/.test(host.slice(end + 1))) return false;
      return isIP(name) === 6;
    }
    const colon = host.lastIndexOf(':');
    name = colon >= 0 ? host.slice(0, colon) : host;
    if (colon >= 0 && !/^\d{1,5}$/.test(host.slice(colon + 1))) return false;
    if (isIP(name) === 4) return true;
    const n = normalise(name);
    return n === 'localhost' || n.endsWith('.localhost') || this.names.has(n);
  }
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}
