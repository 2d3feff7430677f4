import type { IncomingMessage, ServerResponse } from 'node:http';
import { CloudHttpError } from './errors.js';

/**
 * A request's JSON body, refused with 415 unless `application/json` (a cross-site HTML form
 * cannot send that without a CORS preflight this server never answers), 413 past `maxBytes`
 * (declared or streamed), 400 if it does not parse.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new CloudHttpError(415, 'the body must be application/json');
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) throw new CloudHttpError(413, `body over ${maxBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new CloudHttpError(413, `body over ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new CloudHttpError(400, 'the body is not JSON');
  }
}

/** A JSON answer, never cached. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}
