import { writeFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../cloud-bridge/cloud-fixture.js';
import { startBridgeProcess, type BridgeProcess } from '../cloud-bridge/scale/bridge-process.js';
import { FieldmeshProcess } from '../e2e/fieldmesh-process.js';
import { alive, CHAOS, MiB, sampleRss, until } from './attack-fixture.js';

/**
 * The two HTTP servers as an attacker on the network or a rebinding web page would try them:
 * the cloud's routes without a token, a foreign `Host` on either server, `GET //`, and slowloris
 * connections. Against real `fieldmesh cloud` and `fieldmesh gateway` processes.
 */

/** RSS growth allowed while slow clients hold connections (a few KiB of parser state each). */
const RSS_BOUND = 32 * MiB;

/** A raw HTTP/1.1 exchange: the status line and headers the server answered with. */
async function raw(port: number, request: string): Promise<string> {
  const s = tcpConnect(port, '127.0.0.1');
  s.on('error', () => {});
  let out = '';
  s.on('data', (d: Buffer) => (out += d.toString('latin1')));
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.write(request);
  await new Promise<void>((r) => {
    s.once('close', () => r());
    setTimeout(() => (s.destroy(), r()), 5000);
  });
  return out;
}

describe('HTTP servers under attack (real cloud and gateway processes)', () => {
  const tmp = tempDir('fm-sec-http-');
  let bridge: BridgeProcess;
  let gateway: FieldmeshProcess;
  let gatewayHttp = 0;
  const auth = () => ({ authorization: `Bearer ${bridge.liveToken}` });
  const cloudMetrics = async () => ((await (await fetch(`http://127.0.0.1:${bridge.httpPort}/api/metrics`, { headers: auth() })).json()) as { refusedHttp: Record<string, number> }).refusedHttp;

  beforeAll(async () => {
    bridge = await startBridgeProcess(tmp.dir, {
      dataDir: join(tmp.dir, 'data'),
      broker: { port: 0, host: '127.0.0.1', auth: 'none' },
      http: { port: 0, host: '127.0.0.1', headersTimeoutMs: 1000, requestTimeoutMs: 2000 },
    });
    const gwYaml = join(tmp.dir, 'gateway.yaml');
    writeFileSync(gwYaml, stringify({ id: 'gw-h', dataDir: join(tmp.dir, 'gw'), broker: { port: 0, host: '127.0.0.1', auth: 'none' }, http: { port: 0, host: '127.0.0.1' }, mesh: { port: 0, mdns: false, bind: '127.0.0.1' } }), { mode: 0o600 });
    gateway = new FieldmeshProcess(['gateway', '--config', gwYaml, '--log-level', 'warn']);
    gatewayHttp = Number((await gateway.waitForLine(/^http: http:\/\/[^:]+:(\d+)/m))[1]);
  }, 90_000);

  afterAll(async () => {
    expect(alive(bridge.proc.pid!)).toBe(true);
    expect(alive(gateway.child.pid!)).toBe(true);
    await gateway.kill('SIGTERM');
    await bridge.kill('SIGTERM');
    tmp.cleanup();
  });

  it('every cloud route but /healthz needs the token; the dashboard URL sets a cookie that opens the rest', async () => {
    const base = `http://127.0.0.1:${bridge.httpPort}`;
    const before = (await cloudMetrics()).token!;
    for (const path of ['/', '/api/gateways', '/api/series', '/api/readings', '/api/metrics', '/assets/dashboard.js']) {
      expect((await fetch(base + path)).status, path).toBe(401);
      expect((await fetch(base + path, { headers: { authorization: 'Bearer wrong' } })).status, path).toBe(401);
      expect((await fetch(base + path, { headers: auth() })).status, path).toBe(200);
    }
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const page = await fetch(`${base}/?token=${bridge.liveToken}`);
    expect(page.status).toBe(200);
    const cookie = page.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^fm_token=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/);
    expect((await fetch(`${base}/api/gateways`, { headers: { cookie: cookie.split(';')[0]! } })).status).toBe(200);
    expect((await cloudMetrics()).token! - before).toBe(12);
  });

  it('a foreign Host (DNS rebinding) gets 421 on both servers, token or not; counted', async () => {
    const before = (await cloudMetrics()).host!;
    const evil = (path: string, port: number, extra = '') => raw(port, `GET ${path} HTTP/1.1\r\nHost: attacker.example:${port}\r\n${extra}Connection: close\r\n\r\n`);
    expect(await evil('/api/gateways', bridge.httpPort, `Authorization: Bearer ${bridge.liveToken}\r\n`)).toMatch(/^HTTP\/1.1 421 /);
    expect(await evil('/healthz', bridge.httpPort)).toMatch(/^HTTP\/1.1 421 /);
    expect(await raw(bridge.httpPort, `GET /live?token=${bridge.liveToken} HTTP/1.1\r\nHost: attacker.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`)).toMatch(/^HTTP\/1.1 421 /);
    expect(await raw(bridge.httpPort, `GET /healthz HTTP/1.1\r\nHost: localhost:${bridge.httpPort}\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1.1 200 /);
    expect((await cloudMetrics()).host! - before).toBe(3);

    expect(await evil('/api/status', gatewayHttp)).toMatch(/^HTTP\/1.1 421 /);
    expect(await evil('/metrics', gatewayHttp)).toMatch(/^HTTP\/1.1 421 /);
    expect(await raw(gatewayHttp, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${gatewayHttp}\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1.1 200 /);
    const metrics = await (await fetch(`http://127.0.0.1:${gatewayHttp}/metrics`)).text();
    expect(metrics).toMatch(/^fieldmesh_http_refused_total\{reason="host"\} 2$/m);
  });

  it('GET // and other scheme-relative targets get 400, not 500', async () => {
    const before = (await cloudMetrics()).bad_request!;
    for (const target of ['//', '//x', '//attacker.example/api/gateways']) {
      expect(await raw(bridge.httpPort, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${bridge.liveToken}\r\nConnection: close\r\n\r\n`), target).toMatch(/^HTTP\/1.1 400 /);
    }
    expect((await cloudMetrics()).bad_request! - before).toBe(3);
  });

  it(`slowloris connections are closed at the header deadline (RSS growth < ${RSS_BOUND / MiB} MiB)`, async () => {
    const n = CHAOS ? 500 : 60;
    const before = (await cloudMetrics()).timeout!;
    const rss = sampleRss(bridge.proc.pid!);
    const sockets: Socket[] = [];
    const openedAt = Date.now();
    for (let i = 0; i < n; i++) {
      const s = tcpConnect(bridge.httpPort, '127.0.0.1');
      s.on('error', () => {});
      s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      sockets.push(s);
    }
    // One header line every 200 ms: never finishing, each line well inside any idle timeout.
    const drip = setInterval(() => {
      for (const s of sockets) if (!s.destroyed) s.write(`X-${Math.random().toString(36).slice(2)}: 1\r\n`);
    }, 200);
    try {
      await until(() => sockets.every((s) => s.destroyed || s.closed || s.readableEnded), 'slow connections closed', 15_000);
    } finally {
      clearInterval(drip);
    }
    const heldMs = Date.now() - openedAt;
    const { before: rssBefore, peak } = rss.stop();
    for (const s of sockets) s.destroy();
    console.log(`slowloris x${n}: all closed after ${heldMs} ms (headersTimeout 1000 ms); RSS ${(rssBefore / MiB).toFixed(0)} → ${(peak / MiB).toFixed(0)} MiB`);
    expect(heldMs).toBeLessThan(5000);
    expect(peak - rssBefore).toBeLessThan(RSS_BOUND);
    await until(async () => (await cloudMetrics()).timeout! - before >= n, 'timeouts counted', 5000);
  }, 60_000);
});
