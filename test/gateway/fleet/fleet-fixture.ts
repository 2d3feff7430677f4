/**
 * Real parts for the fleet agent's tests: an aedes broker on port 0 standing in for the cloud
 * broker (retained desired state in, retained reported state out), an HTTP server with Range
 * serving real .tgz bundles, bundles built with `tar` from a fake release tree, release keys.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { machine, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Aedes } from 'aedes';
import { afterAll } from 'vitest';
import { encodeDesired, fleetTopics, generateReleaseKey, parseReported, signArtifact, type ConfigBody, type DesiredState, type ReleaseBody, type ReleaseKeyFile, type ReportedState, type RollbackBody } from '#protocol/index';

export const KEY: ReleaseKeyFile = generateReleaseKey();
export const OTHER_KEY: ReleaseKeyFile = generateReleaseKey();
export const MACHINE = machine();
export const ABI = process.versions.modules;

/** A temp dir removed after the file's tests (call it at the top of a test file: its hook then runs last). */
export function tempRoot(prefix = 'fm-fleet-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The cloud broker: keeps what gateways publish retained, publishes desired state retained. */
export async function startCloudBroker() {
  const aedes = await Aedes.createBroker();
  const server: Server = createServer((s) => aedes.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const reported = new Map<string, ReportedState[]>();
  aedes.on('publish', (p) => {
    const m = /^fm\/g\/([^/]+)\/fleet\/reported$/.exec(p.topic);
    if (!m) return;
    const r = parseReported(p.payload as Buffer);
    if (r.ok) reported.set(m[1]!, [...(reported.get(m[1]!) ?? []), r.value]);
  });
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    /** Every reported state a gateway published, oldest first. */
    reported: (gw: string) => reported.get(gw) ?? [],
    last: (gw: string) => reported.get(gw)?.at(-1) ?? null,
    publishDesired(gw: string, payload: DesiredState | Buffer): Promise<void> {
      const body = Buffer.isBuffer(payload) ? payload : encodeDesired(payload);
      return new Promise((r) => aedes.publish({ cmd: 'publish', topic: fleetTopics.desired(gw), payload: body, qos: 1, retain: true, dup: false }, () => r()));
    },
    close: async () => {
      await new Promise<void>((r) => aedes.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface ServedBundle {
  file: string;
  sha256: string;
  bytes: number;
}

/**
 * The cloud's bundle download: GET /api/fleet/releases/<v>/bundle with HTTP Basic, `Range:
 * bytes=N-` answered 206. `cutAfter` ends the response after that many body bytes (a dropped
 * connection); `throttle` sends in 16 KiB chunks that far apart (ms), so a test can kill mid-way.
 */
export async function startBundleServer(opts: { user: string; password: string }) {
  const bundles = new Map<string, ServedBundle>();
  const requests: Array<{ url: string; range: string | undefined; auth: boolean; sent: number }> = [];
  const behaviour = { cutAfter: Infinity, throttle: 0, ignoreRange: false };
  const expected = `Basic ${Buffer.from(`${opts.user}:${opts.password}`).toString('base64')}`;
  const server: HttpServer = createHttpServer((req: IncomingMessage, res) => {
    const rec = { url: req.url ?? '', range: req.headers.range, auth: req.headers.authorization === expected, sent: 0 };
    requests.push(rec);
    if (!rec.auth) return void res.writeHead(401).end();
    const m = /^\/api\/fleet\/releases\/([^/]+)\/bundle$/.exec(req.url ?? '');
    const b = m ? bundles.get(m[1]!) : undefined;
    if (!b) return void res.writeHead(404).end();
    const data = readFileSync(b.file);
    let start = 0;
    const r = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (r && !behaviour.ignoreRange) {
      start = Number(r[1]);
      if (start >= data.length) return void res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
      res.writeHead(206, { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}`, 'content-length': data.length - start, etag: `"${b.sha256}"` });
    } else res.writeHead(200, { 'content-length': data.length, etag: `"${b.sha256}"` });
    const body = data.subarray(start, Math.min(data.length, start + behaviour.cutAfter));
    const cut = start + behaviour.cutAfter < data.length;
    let at = 0;
    const step = () => {
      if (at >= body.length) {
        // A cut: what was written is flushed, then the connection ends short of Content-Length.
        if (cut) res.socket?.end();
        else res.end();
        return;
      }
      const chunk = body.subarray(at, at + 16 * 1024);
      at += chunk.length;
      rec.sent += chunk.length;
      res.write(chunk);
      if (behaviour.throttle > 0) setTimeout(step, behaviour.throttle);
      else setImmediate(step);
    };
    step();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    behaviour,
    serve: (version: string, b: ServedBundle) => bundles.set(version, b),
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

/**
 * A bundle as `npm run bundle` lays it out, in small: `fieldmesh/` with bundle-manifest.json and
 * gateway/bin/fieldmesh.js, and `fillerBytes` of random data (so it does not compress away),
 * packed with the real `tar`.
 */
export function buildBundle(dir: string, version: string, o: { fillerBytes?: number; files?: number; manifest?: Record<string, unknown> } = {}): ServedBundle {
  const work = mkdtempSync(join(dir, `src-${version}-`));
  const root = join(work, 'fieldmesh');
  mkdirSync(join(root, 'gateway', 'bin'), { recursive: true });
  mkdirSync(join(root, 'node_modules', '@fieldmesh'), { recursive: true });
  writeFileSync(join(root, 'bundle-manifest.json'), JSON.stringify({ format: 1, name: 'fieldmesh', version, commit: 'c0ffee', machine: MACHINE, nodeAbi: ABI, ...o.manifest }));
  writeFileSync(join(root, 'gateway', 'bin', 'fieldmesh.js'), `console.log('fieldmesh ${version}');\n`);
  writeFileSync(join(root, 'filler.bin'), randomBytes(o.fillerBytes ?? 200_000));
  for (let i = 0; i < (o.files ?? 0); i++) writeFileSync(join(root, `f${i}.txt`), `${i}\n`);
  execFileSync('ln', ['-s', '../../gateway', join(root, 'node_modules', '@fieldmesh', 'gateway')]);
  const file = join(dir, `bundle-${version}-${randomBytes(4).toString('hex')}.tgz`);
  execFileSync('tar', ['-czf', file, '-C', work, 'fieldmesh']);
  return described(file);
}

export function described(file: string): ServedBundle {
  const data = readFileSync(file);
  return { file, sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
}

/** One tar entry as a hostile bundle would carry it (written by hand: `tar` itself would refuse or rewrite it). */
export interface RawEntry {
  name: string;
  type?: '0' | '2' | '5' | 'x' | 'L' | '3';
  link?: string;
  data?: string;
}

/** A gzipped ustar archive of exactly these entries. */
export function rawTarball(dir: string, entries: RawEntry[]): ServedBundle {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write(e.type ?? '0', 156);
    h.write(e.link ?? '', 157, 100, 'utf8');
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  const file = join(dir, `raw-${randomBytes(4).toString('hex')}.tgz`);
  writeFileSync(file, gzipSync(Buffer.concat(blocks)));
  return described(file);
}

export function releaseBody(version: string, b: Pick<ServedBundle, 'sha256' | 'bytes'>, over: Partial<ReleaseBody> = {}): ReleaseBody {
  return { kind: 'release', version, sha256: b.sha256, bytes: b.bytes, commit: 'c0ffee', machine: MACHINE, nodeAbi: ABI, createdAt: new Date().toISOString(), ...over };
}

export const signed = <B extends ReleaseBody | ConfigBody | RollbackBody>(body: B, key: ReleaseKeyFile = KEY) => signArtifact(body, key);

export function configBody(revision: number, sections: Record<string, unknown>): ConfigBody {
  return { kind: 'config', revision, sections, createdAt: new Date().toISOString() };
}

export function rollbackBody(order: number, target: { version?: string; configRevision?: number }): RollbackBody {
  return { kind: 'rollback', order, ...target, createdAt: new Date().toISOString() };
}

export function desiredRelease(gw: string, serial: number, body: ReleaseBody, extra: Partial<DesiredState> = {}, key: ReleaseKeyFile = KEY): DesiredState {
  return { format: 1, gateway: gw, serial, release: signed(body, key), bundlePath: `/api/fleet/releases/${body.version}/bundle`, ...extra };
}
