import { int, listOf, section, str, type Check } from './checks.js';

/** The local HTTP API and metrics (`/healthz`, `/metrics`, `/api/…`). */
export interface HttpConfig {
  /** TCP port. Default 8081. 0 = any free port. */
  port: number;
  /** Address to listen on. Default `127.0.0.1`: the API has no auth; set `0.0.0.0` to expose it. */
  host: string;
  /**
   * Host names, besides IP literals, `localhost` and this machine's name, that requests may
   * carry in `Host`. Default none. Others get 421: a 127.0.0.1 bind does not stop DNS
   * rebinding (a page of another site whose name resolves to 127.0.0.1), a Host check does.
   */
  allowedHosts: string[];
}

export const httpDefaults: HttpConfig = { port: 8081, host: '127.0.0.1', allowedHosts: [] };

export const checkHttp: Check<HttpConfig> = section<HttpConfig>(
  { port: int(0, 65535), host: str({ max: 255 }), allowedHosts: listOf(str({ pattern: /^[A-Za-z0-9.-]{1,253}$/, hint: 'a host name such as gw-a.example.org' }), 32) },
  httpDefaults,
);
