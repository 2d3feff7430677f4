import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { silentLogger, type Logger } from '@fieldmesh/device-sdk';
import { HostAllowlist } from '@fieldmesh/device-sdk/host-allowlist';
import { HttpError } from './errors.js';

export interface HttpRequest {
  method: string;
  url: URL;
}

export interface HttpReply {
  status?: number;
  /** Sent as JSON unless `text` is given. */
  json?: unknown;
  text?: string;
  contentType?: string;
}

export type Route = (req: HttpRequest) => HttpReply | Promise<HttpReply>;

/** A GET route that writes the response itself and may keep it open (Server-Sent Events). */
export type StreamRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

/** Longest request target accepted: queries here are a few parameters. */
const MAX_URL = 4096;

/**
 * The gateway's local HTTP API on node:http, no framework. Routes are registered by path, so
 * other components add theirs (`/api/members`, `/api/series`, `/api/readings`). Every failure
 * is a JSON `{ error, reason }` reply; nothing a client sends can crash the process.
 * `inject` runs the whole request path without a socket (as fastify's), for tests.
 */
export class HttpApi {
  private readonly routes = new Map<string, Map<string, Route>>();
  private readonly streams = new Map<string, StreamRoute>();
  private server: Server | null = null;
  private readonly log: Logger;
  private boundPort = 0;
  private hosts = new HostAllowlist();
  /** Requests refused for a `Host` this server does not go by (DNS rebinding), for `/metrics`. */
  refusedHost = 0;

  constructor(logger: Logger = silentLogger) {
    this.log = logger.child({ component: 'http' });
  }

  route(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, handler: Route): void {
    let byMethod = this.routes.get(path);
    if (!byMethod) this.routes.set(path, (byMethod = new Map()));
    if (byMethod.has(method)) throw new Error(`route ${method} ${path} registered twice`);
    byMethod.set(method, handler);
  }

  /** Registers a streaming GET route (e.g. `/api/tail`); not reachable through `inject`. */
  stream(path: string, handler: StreamRoute): void {
    if (this.streams.has(path) || this.routes.has(path)) throw new Error(`route GET ${path} registered twice`);
    this.streams.set(path, handler);
  }

  get port(): number {
    return this.boundPort;
  }

  async listen(port: number, host: string, allowedHosts: readonly string[] = []): Promise<void> {
    this.hosts = new HostAllowlist(allowedHosts);
    const server = createServer((req, res) => void this.serve(req, res));
    // Slow-loris bounds: a client must send its headers promptly.
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.maxHeadersCount = 50;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new HttpError(500, 'FM_ERR_HTTP_LISTEN', `cannot listen on ${host}:${port}: ${err.message}`)));
      server.listen(port, host, () => resolve());
    });
    server.on('error', (err) => this.log.error({ err }, 'http server error'));
    server.on('clientError', (_err, socket) => socket.destroy());
    this.server = server;
    this.boundPort = (server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Runs a request through routing and handlers without a socket. */
  async inject(method: string, target: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const { status, headers, body } = await this.handle(method, target);
    return { status, headers, body };
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Request bodies are not read by GET routes; drain them so the socket can be reused.
    req.resume();
    if (!this.hosts.allows(req.headers.host)) {
      this.refusedHost++;
      const body = JSON.stringify({ error: 'FM_ERR_HTTP_HOST', reason: `Host ${JSON.stringify((req.headers.host ?? '').slice(0, 80))} is not a name this gateway answers to (add it to http.allowedHosts)` });
      // 421 Misdirected Request (RFC 9110 §15.5.20).
      res.writeHead(421, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const stream = req.method === 'GET' && (req.url ?? '').length <= MAX_URL ? this.streamFor(req.url ?? '/') : undefined;
    if (stream) {
      try {
        stream.handler(req, res, stream.url);
      } catch (err) {
        this.log.error({ err, target: (req.url ?? '').slice(0, 200) }, 'http stream handler failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        res.end();
      }
      return;
    }
    const { status, headers, body } = await this.handle(req.method ?? 'GET', req.url ?? '/');
    res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private streamFor(target: string): { handler: StreamRoute; url: URL } | undefined {
    if (this.streams.size === 0) return undefined;
    try {
      const url = new URL(target, 'http://gateway.local');
      const handler = this.streams.get(url.pathname);
      return handler && { handler, url };
    } catch {
      return undefined;
    }
  }

  private async handle(method: string, target: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    try {
      if (target.length > MAX_URL) throw new HttpError(414, 'FM_ERR_HTTP_BAD_REQUEST', `request target longer than ${MAX_URL}`);
      let url: URL;
      try {
        url = new URL(target, 'http://gateway.local');
      } catch {
        throw new HttpError(400, 'FM_ERR_HTTP_BAD_REQUEST', 'request target is not a URL');
      }
      const byMethod = this.routes.get(url.pathname);
      if (!byMethod) throw new HttpError(404, 'FM_ERR_HTTP_NOT_FOUND', `no route ${url.pathname}`);
      const handler = byMethod.get(method === 'HEAD' ? 'GET' : method);
      if (!handler) {
        const reply = json(405, { error: 'FM_ERR_HTTP_METHOD', reason: `${method} not allowed on ${url.pathname}` });
        reply.headers.allow = [...byMethod.keys()].join(', ');
        return reply;
      }
      const out = await handler({ method, url });
      if (out.text !== undefined) {
        return { status: out.status ?? 200, headers: { 'content-type': out.contentType ?? 'text/plain; charset=utf-8' }, body: out.text };
      }
      return json(out.status ?? 200, out.json ?? null);
    } catch (err) {
      if (err instanceof HttpError) return json(err.status, { error: err.code, reason: err.reason });
      this.log.error({ err, method, target: target.slice(0, 200) }, 'http handler failed');
      return json(500, { error: 'FM_ERR_HTTP_INTERNAL', reason: 'internal error' });
    }
  }
}

function json(status: number, body: unknown): { status: number; headers: Record<string, string>; body: string } {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, body: JSON.stringify(body) };
}
