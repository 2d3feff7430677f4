import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateReleaseKey, signArtifact } from '@fieldmesh/protocol';
import { GatewayCredentials } from '#cloud-bridge/broker/credentials';
import { promtoolCheck, sample } from '../observability/promtool.js';
import { releaseBody, startFleetCloud, type FleetCloud } from './fleet-fixture.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json: () => { error?: string; code?: string; [k: string]: unknown };
}

/** One raw HTTP request: the path goes out byte for byte (no client-side normalisation of `..` or `%2F`). */
function call(port: number, method: string, path: string, opts: { headers?: Record<string, string>; body?: Buffer | string; chunks?: Buffer[] } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: opts.headers ?? {} }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const body = Buffer.concat(parts);
        resolve({ status: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body.toString('utf8')) });
      });
      res.on('error', reject);
    });
    // A server that answers an oversized upload early closes while the client still writes.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    if (opts.chunks) {
      let i = 0;
      const next = () => {
        if (i === opts.chunks!.length) return req.end();
        if (req.destroyed) return;
        req.write(opts.chunks![i++], next);
      };
      next();
    } else req.end(opts.body);
  });
}

const bundleA = Buffer.alloc(300_000, 7);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('fleet HTTP routes: uploads, downloads with Range, who may do what, hostile requests', () => {
  let cloud: FleetCloud;
  let port: number;
  let admin: string;
  let viewer: string;
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const basic = (id: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${pw}`).toString('base64')}` });
  const json = (t: string) => ({ ...bearer(t), 'content-type': 'application/json' });
  const refused = () => cloud.bridge.fleet.parts!.routes.refused;

  beforeAll(async () => {
    cloud = await startFleetCloud(['gw-a', 'gw-b'], { fleet: { maxBundleBytes: 1024 * 1024 } });
    port = cloud.bridge.httpPort;
    admin = cloud.bridge.fleet.parts!.adminTokens.issue('ops', Date.now());
    viewer = cloud.bridge.live.tokens.issue('wall', Date.now());
  });
  afterAll(async () => cloud.stop());

  it('uploads a bundle and its envelope, then serves it whole, by range and as HEAD, to a gateway credential', async () => {
    const up = await call(port, 'PUT', '/api/fleet/releases/1.2.0/bundle', { headers: bearer(admin), body: bundleA });
    expect(up.status, up.body.toString()).toBe(201);
    expect(up.json()).toEqual({ version: '1.2.0', sha256: sha(bundleA), bytes: bundleA.length });
    const env = signArtifact(releaseBody('1.2.0', bundleA), cloud.key);
    const put = await call(port, 'PUT', '/api/fleet/releases/1.2.0', { headers: json(admin), body: JSON.stringify(env) });
    expect(put.status, put.body.toString()).toBe(201);
    expect(JSON.parse(readFileSync(join(cloud.dir, 'fleet/releases/1.2.0.json'), 'utf8'))).toEqual(env);
    // The same again is fine; another envelope or bundle for a published version is not.
    expect((await call(port, 'PUT', '/api/fleet/releases/1.2.0', { headers: json(admin), body: JSON.stringify(env) })).status).toBe(200);
    const other = await call(port, 'PUT', '/api/fleet/releases/1.2.0/bundle', { headers: bearer(admin), body: Buffer.alloc(10, 1) });
    expect(other.status).toBe(409);
    expect(other.json().code).toBe('FM_ERR_CLOUD_HTTP_CONFLICT');
    expect(readFileSync(join(cloud.dir, 'fleet/releases/1.2.0.tgz')).equals(bundleA)).toBe(true);

    const gw = basic('gw-b', cloud.passwords['gw-b']!);
    const whole = await call(port, 'GET', '/api/fleet/releases/1.2.0/bundle', { headers: gw });
    expect(whole.status).toBe(200);
    expect(whole.body.equals(bundleA)).toBe(true);
    expect(whole.headers.etag).toBe(`"${sha(bundleA)}"`);
    expect(whole.headers['accept-ranges']).toBe('bytes');
    const part = await call(port, 'GET', '/api/fleet/releases/1.2.0/bundle', { headers: { ...gw, range: 'bytes=100000-' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100000-${bundleA.length - 1}/${bundleA.length}`);
    expect(part.body.equals(bundleA.subarray(100000))).toBe(true);
    const mid = await call(port, 'GET', '/api/fleet/releases/1.2.0/bundle', { headers: { ...gw, range: 'bytes=10-19' } });
    expect([mid.status, mid.body.length]).toEqual([206, 10]);
    const head = await call(port, 'HEAD', '/api/fleet/releases/1.2.0/bundle', { headers: gw });
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([200, String(bundleA.length), 0]);
    // The status lists it.
    const status = await call(port, 'GET', '/api/fleet', { headers: bearer(viewer) });
    expect(status.json().releases).toMatchObject([{ version: '1.2.0', sha256: sha(bundleA), bytes: bundleA.length }]);
  });

  it('a gateway credential is checked once (scrypt), then remembered; a wrong or another gateway\'s password is 401', async () => {
    const verify = vi.spyOn(GatewayCredentials.prototype, 'verify');
    try {
      const gw = basic('gw-a', cloud.passwords['gw-a']!);
      for (let i = 0; i < 10; i++) expect((await call(port, 'GET', '/api/fleet/releases/1.2.0/bundle', { headers: { ...gw, range: `bytes=${i * 1000}-` } })).status).toBe(206);
      expect(verify).toHaveBeenCalledTimes(1);
      expect((await call(port, 'GET', '/api/fleet/releases/1.2.0/bundle', { headers: basic('gw-a', 'wrong') })).status).toBe(401);
      expect((await call(port, 'GET', '/api/fleet/releases/1.2.0/bundle', { headers: basic('gw-b', cloud.passwords['gw-a']!) })).status).toBe(401);
      expect((await call(port, 'GET', '/api/fleet/releases/1.2.0/bundle', { headers: basic('../gw-a', 'x') })).status).toBe(401);
      expect((await call(port, 'GET', '/api/fleet/releases/1.2.0/bundle', { headers: { authorization: 'Basic !!!' } })).status).toBe(401);
    } finally {
      verify.mockRestore();
    }
  });

  it('who may do what: a viewer reads, a gateway only downloads, only an admin bearer writes', async () => {
    const gw = basic('gw-b', cloud.passwords['gw-b']!);
    const desired = JSON.stringify({ target: { all: true }, version: '1.2.0' });
    const before = { ...refused() };
    expect((await call(port, 'GET', '/api/fleet')).status).toBe(401);
    expect((await call(port, 'GET', '/api/fleet', { headers: bearer('not-a-token') })).status).toBe(401);
    expect((await call(port, 'GET', '/api/fleet', { headers: bearer(viewer) })).status).toBe(200);
    expect((await call(port, 'GET', '/api/fleet', { headers: bearer(admin) })).status).toBe(200);
    expect((await call(port, 'GET', `/api/fleet?token=${viewer}`)).status).toBe(200);
    for (const h of [bearer(viewer), gw]) {
      const r = await call(port, 'PUT', '/api/fleet/desired', { headers: { ...h, 'content-type': 'application/json' }, body: desired });
      expect(r.status).toBe(403);
      expect(r.json().code).toBe('FM_ERR_CLOUD_HTTP_FORBIDDEN');
    }
    // An admin token outside the bearer header (query, cookie) only reads: a cross-site page can make a browser send those.
    expect((await call(port, 'PUT', `/api/fleet/desired?token=${admin}`, { headers: { 'content-type': 'application/json' }, body: desired })).status).toBe(403);
    expect((await call(port, 'PUT', '/api/fleet/desired', { headers: { cookie: `fm_token=${admin}`, 'content-type': 'application/json' }, body: desired })).status).toBe(403);
    for (const p of ['/api/fleet', '/api/fleet/history', '/api/fleet/releases/1.2.0', '/api/gateways']) {
      expect((await call(port, 'GET', p, { headers: gw })).status, p).toBeGreaterThanOrEqual(401);
    }
    expect((await call(port, 'PUT', '/api/fleet/releases/1.3.0/bundle', { headers: gw, body: 'x' })).status).toBe(403);
    expect((await call(port, 'POST', '/api/fleet/rollouts', { headers: { ...bearer(viewer), 'content-type': 'application/json' }, body: '{"version":"1.2.0"}' })).status).toBe(403);
    expect(refused().forbidden - before.forbidden).toBeGreaterThanOrEqual(8);
    expect(refused().unauthorized - before.unauthorized).toBe(2);
    expect((await call(port, 'PUT', '/api/fleet/desired', { headers: json(admin), body: desired })).status).toBe(200);
    const hist = (await call(port, 'GET', '/api/fleet/history', { headers: bearer(viewer) })).json();
    expect((hist.events as Array<{ kind: string; by?: string }>).find((e) => e.kind === 'desired-set')?.by).toBe('ops');
    // Cancel is a write: no token is 401, a live (viewer) token or a gateway 403, an admin gets past to the rollout id.
    const cancel = (h: Record<string, string>, id = '7') => call(port, 'POST', `/api/fleet/rollouts/${id}/cancel`, { headers: { ...h, 'content-type': 'application/json' }, body: '{}' });
    expect((await cancel({})).status).toBe(401);
    expect((await cancel(bearer(viewer))).json()).toMatchObject({ code: 'FM_ERR_CLOUD_HTTP_FORBIDDEN', error: expect.stringMatching(/fleet admin token/) });
    expect((await cancel(gw)).status).toBe(403);
    const unknown = await cancel(bearer(admin));
    expect(unknown.status).toBe(404);
    expect(unknown.json().error).toMatch(/^no rollout 7 \(GET \/api\/fleet, fieldmesh fleet status, lists the rollouts with their ids\)/);
    expect((await cancel(bearer(admin), 'abc')).status).toBe(404);
    expect((await call(port, 'GET', '/api/fleet/rollouts/7/cancel', { headers: bearer(admin) })).status).toBe(404);
  });

  it('oversized bundles (declared or streamed) are 413 and leave no file; an empty or broken one counts for nothing', async () => {
    const before = refused().too_large;
    const declared = await call(port, 'PUT', '/api/fleet/releases/2.0.0/bundle', { headers: { ...bearer(admin), 'content-length': String(2 * 1024 * 1024) }, body: Buffer.alloc(10) });
    expect(declared.status).toBe(413);
    const chunks = Array.from({ length: 40 }, () => Buffer.alloc(64 * 1024, 3));
    const streamed = await call(port, 'PUT', '/api/fleet/releases/2.0.0/bundle', { headers: { ...bearer(admin), 'transfer-encoding': 'chunked' }, chunks });
    expect(streamed.status).toBe(413);
    expect(streamed.json().code).toBe('FM_ERR_CLOUD_HTTP_TOO_LARGE');
    expect((await call(port, 'PUT', '/api/fleet/releases/2.0.0/bundle', { headers: bearer(admin), body: '' })).status).toBe(400);
    expect(refused().too_large - before).toBe(2);
    expect(cloud.bridge.fleet.store.bundle('2.0.0')).toBeNull();
    expect(readdirSync(join(cloud.dir, 'fleet/releases')).filter((f) => f.startsWith('2.0.0'))).toEqual([]);
    expect((await call(port, 'GET', '/healthz')).status).toBe(200);
  });

  it('envelopes: before the bundle, not matching it, tampered, signed by another key, for another version: refused', async () => {
    const b = Buffer.from('bundle 1.3.0');
    const env = signArtifact(releaseBody('1.3.0', b), cloud.key);
    const early = await call(port, 'PUT', '/api/fleet/releases/1.3.0', { headers: json(admin), body: JSON.stringify(env) });
    expect([early.status, early.json().code]).toEqual([409, 'FM_ERR_CLOUD_HTTP_CONFLICT']);
    expect((await call(port, 'PUT', '/api/fleet/releases/1.3.0/bundle', { headers: bearer(admin), body: Buffer.from('other bytes') })).status).toBe(201);
    expect((await call(port, 'PUT', '/api/fleet/releases/1.3.0', { headers: json(admin), body: JSON.stringify(env) })).json().error).toMatch(/sha256/);
    expect((await call(port, 'PUT', '/api/fleet/releases/1.3.0/bundle', { headers: bearer(admin), body: b })).status).toBe(201);
    const tampered = { ...env, body: { ...env.body, machine: 'armv7l' } };
    expect((await call(port, 'PUT', '/api/fleet/releases/1.3.0', { headers: json(admin), body: JSON.stringify(tampered) })).json().error).toMatch(/bad-signature/);
    const stranger = signArtifact(releaseBody('1.3.0', b), generateReleaseKey());
    expect((await call(port, 'PUT', '/api/fleet/releases/1.3.0', { headers: json(admin), body: JSON.stringify(stranger) })).json().error).toMatch(/wrong-key/);
    expect((await call(port, 'PUT', '/api/fleet/releases/1.4.0', { headers: json(admin), body: JSON.stringify(env) })).status).toBe(400);
    expect(cloud.bridge.fleet.store.release('1.3.0')).toBeNull();
    expect(existsSync(join(cloud.dir, 'fleet/releases/1.3.0.json'))).toBe(false);
    // Config revisions: fixed sections and a revision other than the path's are refused.
    const cfg = (revision: number, sections: Record<string, unknown>) => JSON.stringify(signArtifact({ kind: 'config', revision, sections, createdAt: '2026-12-01T00:00:00.000Z' }, cloud.key));
    expect((await call(port, 'PUT', '/api/fleet/configs/3', { headers: json(admin), body: cfg(3, { fleet: {} }) })).json().error).toMatch(/section-not-allowed/);
    expect((await call(port, 'PUT', '/api/fleet/configs/4', { headers: json(admin), body: cfg(3, { rules: [] }) })).status).toBe(400);
    expect((await call(port, 'PUT', '/api/fleet/configs/3', { headers: json(admin), body: cfg(3, { rules: [] }) })).status).toBe(201);
    expect((await call(port, 'PUT', '/api/fleet/configs/3', { headers: json(admin), body: cfg(3, { rules: [{}] }) })).status).toBe(409);
  });

  it('path traversal in version or revision is a 400, never a file outside the release directory', async () => {
    for (const p of [
      '/api/fleet/releases/..%2F..%2Fgateways.json/bundle',
      '/api/fleet/releases/..%2f..%2ffleet-admin-tokens.json/bundle',
      '/api/fleet/releases/1.2.0%2F..%2F..%2Fgateways/bundle',
      '/api/fleet/releases/%2e%2e/bundle',
      '/api/fleet/releases/1.2.0.tgz/bundle',
    ]) {
      const r = await call(port, 'GET', p, { headers: bearer(viewer) });
      expect([400, 404], p).toContain(r.status);
      expect(r.body.toString()).not.toContain('"gateways"');
    }
    for (const p of ['/api/fleet/configs/..%2F1', '/api/fleet/configs/7.json', '/api/fleet/configs/-1', '/api/fleet/configs/0']) {
      expect((await call(port, 'PUT', p, { headers: json(admin), body: '{}' })).status, p).toBe(400);
    }
    expect((await call(port, 'PUT', '/api/fleet/releases/..%2F..%2Fx/bundle', { headers: bearer(admin), body: 'evil' })).status).toBe(400);
    expect(existsSync(join(cloud.dir, 'x.tgz'))).toBe(false);
  });

  it('Range abuse: suffix, several ranges, past the end, reversed, junk: 416 with the size, never a crash', async () => {
    const h = bearer(viewer);
    for (const range of ['bytes=-1', 'bytes=0-1,5-6', `bytes=${bundleA.length}-`, 'bytes=99999999999999-', 'bytes=50-10', 'bytes=abc', 'items=0-', `bytes=${'9'.repeat(40)}-`]) {
      const r = await call(port, 'GET', '/api/fleet/releases/1.2.0/bundle', { headers: { ...h, range } });
      expect(r.status, range).toBe(416);
      expect(r.headers['content-range']).toBe(`bytes */${bundleA.length}`);
      expect(r.json().code).toBe('FM_ERR_CLOUD_HTTP_RANGE');
    }
    // A range end past the file is clipped (RFC 9110 §14.1.2).
    const clipped = await call(port, 'GET', '/api/fleet/releases/1.2.0/bundle', { headers: { ...h, range: `bytes=${bundleA.length - 5}-${bundleA.length + 1000}` } });
    expect([clipped.status, clipped.body.length]).toEqual([206, 5]);
    expect((await call(port, 'GET', '/api/fleet/releases/9.9.9/bundle', { headers: h })).status).toBe(404);
  });

  it('malformed bodies: not JSON, wrong type, too large, unknown fields, unknown targets: 4xx naming the problem', async () => {
    const put = (body: string, headers = json(admin)) => call(port, 'PUT', '/api/fleet/desired', { headers, body });
    expect((await put('{"target":')).status).toBe(400);
    expect((await put('{}', { ...bearer(admin), 'content-type': 'text/plain' })).status).toBe(415);
    expect((await put(JSON.stringify({ target: { all: true }, note: 'x'.repeat(70_000) }))).status).toBe(413);
    expect((await put(JSON.stringify({ target: { all: true }, versoin: '1.2.0' }))).json().error).toMatch(/unknown field "versoin"/);
    expect((await put(JSON.stringify({ target: { gateway: '../gw' }, version: '1.2.0' }))).status).toBe(400);
    expect((await put(JSON.stringify({ target: { gateway: 'gw-a', group: 'x' }, version: '1.2.0' }))).status).toBe(400);
    expect((await put(JSON.stringify({ target: { all: true }, version: '7.7.7' }))).status).toBe(404);
    expect((await put(JSON.stringify({ target: { all: true }, configRevision: 99 }))).status).toBe(404);
    expect((await put(JSON.stringify({ target: { all: true }, rollback: { body: { kind: 'rollback' } } }))).json().error).toMatch(/rollback envelope is refused/);
    expect((await put('[1,2]')).status).toBe(400);
    expect((await put(JSON.stringify({ target: { gateway: 'gw-a' }, clear: true, version: '1.2.0' }))).status).toBe(400);
    expect((await put(JSON.stringify({ target: { gateway: 'gw-a' }, clear: 'yes' }))).status).toBe(400);
    expect((await put(JSON.stringify({ target: { gateway: 'gw-a' }, version: '1.2.0' }))).status).toBe(200);
    expect(cloud.bridge.fleet.store.desired('gateway:gw-a')).not.toBeNull();
    expect((await put(JSON.stringify({ target: { gateway: 'gw-a' }, clear: true }))).json()).toMatchObject({ scope: 'gateway:gw-a', cleared: true });
    expect(cloud.bridge.fleet.store.desired('gateway:gw-a')).toBeNull();
    const post = (body: string) => call(port, 'POST', '/api/fleet/rollouts', { headers: json(admin), body });
    expect((await post(JSON.stringify({ version: '1.2.0', configRevision: 3 }))).status).toBe(400);
    expect((await post(JSON.stringify({ version: '1.2.0', canaryPercent: 101 }))).status).toBe(400);
    expect((await post(JSON.stringify({ version: '1.2.0', waves: 0 }))).status).toBe(400);
    expect((await call(port, 'POST', '/api/fleet/rollouts/abc/pause', { headers: json(admin), body: '{}' })).status).toBe(404);
    expect((await call(port, 'POST', '/api/fleet/rollouts/77/pause', { headers: json(admin), body: '{}' })).status).toBe(404);
    expect((await call(port, 'DELETE', '/api/fleet/desired', { headers: bearer(admin) })).status).toBe(405);
    expect((await call(port, 'GET', '/api/fleet/history?gateway=../x', { headers: bearer(viewer) })).status).toBe(400);
    expect((await call(port, 'GET', '/api/fleet/history?limit=100000', { headers: bearer(viewer) })).status).toBe(400);
    const m = (await call(port, 'GET', '/api/metrics', { headers: bearer(viewer) })).json() as { fleet: { refusedHttp: Record<string, number> } };
    expect(m.fleet.refusedHttp.bad_request).toBeGreaterThanOrEqual(8);
    const prom = (await call(port, 'GET', '/metrics', { headers: bearer(viewer) })).body.toString();
    expect(promtoolCheck(prom).output).toBe('');
    expect(sample(prom, 'fieldmesh_cloud_refused_total{kind="fleet_http",reason="bad_request"}')).toBe(m.fleet.refusedHttp.bad_request);
    expect(sample(prom, 'fieldmesh_cloud_refused_total{kind="fleet_http",reason="range"}')).toBe(8);
    expect(sample(prom, 'fieldmesh_cloud_fleet_bundle_bytes_sent_total')).toBeGreaterThan(bundleA.length);
    expect((await call(port, 'GET', '/healthz')).status).toBe(200);
  });
  it('gateway ids and group tags off the one grammar (protocol/vectors/identifiers): 400 naming the rule, never 500', async () => {
    const vectors = JSON.parse(readFileSync(join(import.meta.dirname, '../../../protocol/vectors/identifiers/gateway-ids.json'), 'utf8')) as { valid: string[]; invalid: string[] };
    const put = (target: object) => call(port, 'PUT', '/api/fleet/desired', { headers: json(admin), body: JSON.stringify({ target, clear: true }) });
    for (const bad of vectors.invalid) {
      for (const target of [{ gateway: bad }, { group: bad }]) {
        const r = await put(target);
        expect([r.status, r.json().code], JSON.stringify(target)).toEqual([400, 'FM_ERR_CLOUD_HTTP_BAD_REQUEST']);
      }
      const rollout = await call(port, 'POST', '/api/fleet/rollouts', { headers: json(admin), body: JSON.stringify({ version: '1.2.0', group: bad }) });
      expect([rollout.status, rollout.json().error], JSON.stringify(bad)).toEqual([400, expect.stringContaining('group is not a tag (1-64 of letters, digits, . _ -, starting with a letter or digit)')]);
      const q = encodeURIComponent(bad);
      expect((await call(port, 'GET', `/api/fleet/history?gateway=${q}`, { headers: bearer(viewer) })).status, bad).toBe(400);
      expect((await call(port, 'GET', `/api/readings?gateway=${q}`, { headers: bearer(viewer) })).status, bad).toBe(400);
    }
    for (const good of vectors.valid) {
      for (const target of [{ gateway: good }, { group: good }]) expect((await put(target)).status, JSON.stringify(target)).toBe(200);
      expect((await call(port, 'GET', `/api/fleet/history?gateway=${good}`, { headers: bearer(viewer) })).status, good).toBe(200);
    }
  });
});
