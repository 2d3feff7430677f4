import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import type { HttpGet } from './bundle-fetch.js';

/**
 * The bundle download's HTTP edge over node:http/https, so a cloud whose certificate a private
 * CA signed is verified against that CA (the uplink's `ca`, and its client certificate for mTLS)
 * rather than the system's. Verification is never skipped. Redirects are refused (the uplink
 * credential goes to the configured cloud only).
 */
export function bundleHttpGet(tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {}): HttpGet {
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const u = new URL(url);
      const https = u.protocol === 'https:';
      const options = { method: 'GET', headers: init.headers, signal: init.signal, ...(https ? { rejectUnauthorized: true, ...tls } : {}) };
      const onResponse = (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          res.resume();
          return reject(new Error(`HTTP ${status} redirect refused`));
        }
        const headers = new Headers();
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        const body = status === 204 || status === 304 ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        resolve(new Response(body, { status, headers }));
      };
      const req = https ? httpsRequest(u, options, onResponse) : httpRequest(u, options, onResponse);
      req.on('error', reject);
      req.end();
    });
}
