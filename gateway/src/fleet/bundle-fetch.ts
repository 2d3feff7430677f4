import { sha256OfFile } from '@fieldmesh/device-sdk/file-digest';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncDir } from '@fieldmesh/device-sdk/durable-file';

/** The HTTP edge: `fetch`'s shape, so the real one is the global fetch and nothing else is needed. */
export type HttpGet = (url: string, init: { headers: Record<string, string>; signal: AbortSignal; redirect: 'error' }) => Promise<Response>;

export interface BundleFetchOptions {
  url: string;
  /** `Authorization` header value (HTTP Basic with the uplink credential), or null. */
  authorization: string | null;
  /** `downloads/<v>.tgz.part`, grown across attempts; `downloads/<v>.tgz` once hash-checked. */
  part: string;
  final: string;
  /** Signed size and SHA-256 (hex) of the bundle: nothing past `bytes` is ever written. */
  bytes: number;
  sha256: string;
  signal?: AbortSignal;
  /** No byte for this long ends the attempt (the part stays for the next). Default 30 s. */
  idleTimeoutMs?: number;
  get?: HttpGet;
  /** Bytes written in this attempt so far, as they arrive. */
  onProgress?(moved: number): void;
}

export type BundleFetchResult =
  | { ok: true; moved: number; resumedFrom: number }
  | { ok: false; reason: 'fetch-failed' | 'hash-mismatch'; why: string; moved: number };

/**
 * Downloads a release bundle, resumable: what is in `.part` is kept and the rest asked for with
 * `Range: bytes=N-`. A server that ignores the range (200) starts the file over; more bytes than
 * signed, or a wrong hash, deletes the part. A cut connection keeps it. Only a file whose SHA-256
 * matches the signed one is renamed to `.tgz`, so a `.tgz` is always a checked bundle.
 */
export async function fetchBundle(o: BundleFetchOptions): Promise<BundleFetchResult> {
  const finalSize = await sizeOf(o.final);
  if (finalSize !== null) {
    if (finalSize === o.bytes && (await sha256OfFile(o.final)) === o.sha256) return { ok: true, moved: 0, resumedFrom: o.bytes };
    await rm(o.final, { force: true });
  }
  await mkdir(dirname(o.part), { recursive: true });
  let have = (await sizeOf(o.part)) ?? 0;
  if (have > o.bytes) {
    await rm(o.part, { force: true });
    have = 0;
  }
  const resumedFrom = have;
  let moved = 0;
  if (have < o.bytes) {
    const got = await download(o, have, (n) => {
      moved += n;
      o.onProgress?.(moved);
    });
    if (got !== null) return { ok: false, reason: got.reason, why: got.why, moved };
  }
  if ((await sha256OfFile(o.part)) !== o.sha256) {
    await rm(o.part, { force: true });
    return { ok: false, reason: 'hash-mismatch', why: `the bundle's SHA-256 is not the signed ${o.sha256.slice(0, 12)}…`, moved };
  }
  await rename(o.part, o.final);
  syncDir(dirname(o.final));
  return { ok: true, moved, resumedFrom };
}

/** One HTTP attempt appending to the part file; null when the part now holds `bytes` bytes. */
async function download(o: BundleFetchOptions, have: number, count: (n: number) => void): Promise<{ reason: 'fetch-failed' | 'hash-mismatch'; why: string } | null> {
  const get: HttpGet = o.get ?? ((url, init) => fetch(url, init));
  const ctl = new AbortController();
  const idleMs = o.idleTimeoutMs ?? 30_000;
  let idle: NodeJS.Timeout | null = null;
  const touch = () => {
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => ctl.abort(new Error(`no data for ${idleMs} ms`)), idleMs);
  };
  const onAbort = () => ctl.abort(o.signal?.reason ?? new Error('aborted'));
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const headers: Record<string, string> = { accept: 'application/gzip, application/octet-stream' };
  if (o.authorization) headers.authorization = o.authorization;
  if (have > 0) headers.range = `bytes=${have}-`;
  const file = await open(o.part, 'a');
  try {
    touch();
    let res: Response;
    try {
      res = await get(o.url, { headers, signal: ctl.signal, redirect: 'error' });
    } catch (err) {
      return { reason: 'fetch-failed', why: `GET ${o.url}: ${causeOf(err)}` };
    }
    if (res.status === 416) {
      await file.truncate(0);
      return { reason: 'fetch-failed', why: `GET ${o.url}: 416 for bytes=${have}- (starting over next time)` };
    }
    if (res.status === 200 && have > 0) {
      await file.truncate(0);
      have = 0;
    } else if (res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== have || (m[3] !== '*' && Number(m[3]) !== o.bytes)) {
        await res.body?.cancel().catch(() => {});
        return { reason: 'fetch-failed', why: `GET ${o.url}: Content-Range ${JSON.stringify(res.headers.get('content-range'))} does not continue at byte ${have} of ${o.bytes}` };
      }
    } else if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      return { reason: 'fetch-failed', why: `GET ${o.url}: HTTP ${res.status}` };
    }
    if (!res.body) return { reason: 'fetch-failed', why: `GET ${o.url}: no body` };
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        touch();
        if (have + chunk.length > o.bytes) {
          await res.body.cancel().catch(() => {});
          await file.truncate(0);
          return { reason: 'hash-mismatch', why: `the server sent more than the signed ${o.bytes} bytes` };
        }
        await file.write(chunk);
        have += chunk.length;
        count(chunk.length);
      }
    } catch (err) {
      return { reason: 'fetch-failed', why: `download cut at byte ${have} of ${o.bytes}: ${causeOf(err)} (resumes from there)` };
    }
    if (have < o.bytes) return { reason: 'fetch-failed', why: `download ended at byte ${have} of ${o.bytes} (resumes from there)` };
    return null;
  } finally {
    if (idle) clearTimeout(idle);
    o.signal?.removeEventListener('abort', onAbort);
    await file.sync().catch(() => {});
    await file.close();
  }
}

function causeOf(err: unknown): string {
  const e = err as Error & { cause?: Error };
  return e.cause?.message ? `${e.message}: ${e.cause.message}` : (e.message ?? String(err));
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

