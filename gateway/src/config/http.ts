import { int, section, str, type Check } from './checks.js';

/** The local HTTP API and metrics (`/healthz`, `/metrics`, `/api/…`). */
export interface HttpConfig {
  /** TCP port. Default 8081. 0 = any free port. */
  port: number;
  /** Address to listen on. Default `127.0.0.1`: the API has no auth; set `0.0.0.0` to expose it. */
  host: string;
}

export const httpDefaults: HttpConfig = { port: 8081, host: '127.0.0.1' };

export const checkHttp: Check<HttpConfig> = section<HttpConfig>({ port: int(0, 65535), host: str({ max: 255 }) }, httpDefaults);
