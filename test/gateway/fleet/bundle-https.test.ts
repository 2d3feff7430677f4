/**
 * The bundle download over HTTPS to a cloud whose certificate a private CA signed (the uplink's
 * `ca`): verified against that CA, refused without it, and redirects refused (the uplink
 * credential only goes to the configured cloud). Real TLS with a throwaway PKI.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBundle } from '#gateway/fleet/bundle-fetch';
import { bundleHttpGet } from '#gateway/fleet/bundle-http';
import { makePki, type Pki } from '../../e2e/throwaway-pki.js';
import { buildBundle, tempRoot, type ServedBundle } from './fleet-fixture.js';

const dir = tempRoot('fm-fleet-https-');
let pki: Pki;
let server: Server;
let base: string;
let bundle: ServedBundle;
const seen: Array<string | undefined> = [];

beforeAll(async () => {
  pki = makePki(dir);
  bundle = buildBundle(dir, '1.2.0');
  const data = readFileSync(bundle.file);
  server = createServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }, (req, res) => {
    seen.push(req.headers.authorization);
    if (req.url === '/moved') return void res.writeHead(302, { location: 'https://elsewhere.example/x' }).end();
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    res.writeHead(m ? 206 : 200, m ? { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` } : {});
    res.end(data.subarray(start));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://localhost:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r())));
});

const opts = (name: string, path = '/bundle') => ({ url: base + path, authorization: 'Basic Z3c6cHc=', part: join(dir, `${name}.part`), final: join(dir, `${name}.tgz`), bytes: bundle.bytes, sha256: bundle.sha256 });

describe('bundle download over HTTPS', () => {
  it('verifies the cloud against the uplink CA and downloads the bundle', async () => {
    const r = await fetchBundle({ ...opts('ok'), get: bundleHttpGet({ ca: readFileSync(pki.ca) }) });
    expect(r).toEqual({ ok: true, moved: bundle.bytes, resumedFrom: 0 });
    expect(readFileSync(join(dir, 'ok.tgz')).equals(readFileSync(bundle.file))).toBe(true);
    expect(seen.at(-1)).toBe('Basic Z3c6cHc=');
  });

  it('refuses a certificate the CA did not sign (the system CAs do not know it), and a redirect', async () => {
    const before = seen.length;
    const r = await fetchBundle({ ...opts('no-ca'), get: bundleHttpGet({ ca: readFileSync(pki.rogueCa) }) });
    expect(r).toMatchObject({ ok: false, reason: 'fetch-failed', why: expect.stringMatching(/certificate|self.signed|unable to verify/i) });
    expect(seen.length).toBe(before);
    const moved = await fetchBundle({ ...opts('moved', '/moved'), get: bundleHttpGet({ ca: readFileSync(pki.ca) }) });
    expect(moved).toMatchObject({ ok: false, reason: 'fetch-failed', why: expect.stringMatching(/redirect refused/) });
  });
});
