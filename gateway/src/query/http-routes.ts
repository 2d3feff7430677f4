import type { IncomingMessage, ServerResponse } from 'node:http';
import type { QueryApi } from './api.js';
import type { QueryErrorCode } from './errors.js';
import type { TailHub } from './tail.js';

/**
 * Node http glue for the query API and the tail stream: answers the request and returns true when
 * the path is one of ours (GET only; other methods get 405), false otherwise so the caller's
 * router goes on. Errors inside a handler become a 500 with a coded body, never a crash.
 */
export function serveQuery(req: IncomingMessage, res: ServerResponse, api: QueryApi, tail?: TailHub): boolean {
  const url = new URL(req.url ?? '/', 'http://gateway');
  const isTail = url.pathname === '/api/tail';
  if (!isTail && !['/api/series', '/api/readings', '/api/latest', '/api/alerts'].includes(url.pathname)) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    json(res, 405, { error: 'FM_ERR_QUERY_METHOD' satisfies QueryErrorCode, reason: `${req.method ?? '?'} not allowed; use GET` }, { allow: 'GET' });
    return true;
  }
  if (isTail) {
    if (!tail) json(res, 404, { error: 'FM_ERR_QUERY_NO_TAIL' satisfies QueryErrorCode, reason: 'tail is not enabled on this gateway' });
    else tail.attach(req, res, url.searchParams);
    return true;
  }
  try {
    const out = api.handle(url.pathname, url.searchParams)!;
    json(res, out.status, out.body);
  } catch (err) {
    json(res, 500, { error: 'FM_ERR_QUERY_INTERNAL' satisfies QueryErrorCode, reason: (err as Error).message });
  }
  return true;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
