import { systemClock, type Clock, type Timer } from '@fieldmesh/device-sdk';
import { fetchInto, type BundleDownload, type BundleFetchResult, type BundleTarget } from './bundle-part.js';

export type { BundleFetchResult } from './bundle-part.js';

/** The HTTP edge: `fetch`'s shape, so the real one is the global fetch and nothing else is needed. */
export type HttpGet = (url: string, init: { headers: Record<string, string>; signal: AbortSignal; redirect: 'error' }) => Promise<Response>;

export interface BundleFetchOptions extends BundleTarget {
  url: string;
  /** `Authorization` header value (HTTP Basic with the uplink credential), or null. */
  authorization: string | null;
  /** No byte for this long ends the attempt (the part stays for the next). Default 30 s. */
  idleTimeoutMs?: number;
  get?: HttpGet;
  clock?: Clock;
}

/**
 * Downloads a release bundle over the cloud's HTTP API, resumable with `Range: bytes=N-`
 * (bundle-part.ts keeps the part and checks the hash). A server that ignores the range (200)
 * starts the file over.
 */
export function fetchBundle(o: BundleFetchOptions): Promise<BundleFetchResult> {
  return fetchInto(o, httpDownload(o));
}

/** One HTTP attempt appending to the part. */
function httpDownload(o: BundleFetchOptions): BundleDownload {
  return async (sink) => {
    const get: HttpGet = o.get ?? ((url, init) => fetch(url, init));
    const clock = o.clock ?? systemClock;
    const ctl = new AbortController();
    const idleMs = o.idleTimeoutMs ?? 30_000;
    let idle: Timer | null = null;
    const touch = () => {
      if (idle) clock.clearTimeout(idle);
      idle = clock.setTimeout(() => ctl.abort(new Error(`no data for ${idleMs} ms`)), idleMs);
    };
    const onAbort = () => ctl.abort(o.signal?.reason ?? new Error('aborted'));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const headers: Record<string, string> = { accept: 'application/gzip, application/octet-stream' };
    if (o.authorization) headers.authorization = o.authorization;
    const have = sink.have;
    if (have > 0) headers.range = `bytes=${have}-`;
    try {
      touch();
      let res: Response;
      try {
        res = await get(o.url, { headers, signal: ctl.signal, redirect: 'error' });
      } catch (err) {
        return { reason: 'fetch-failed', why: `GET ${o.url}: ${causeOf(err)}` };
      }
      if (res.status === 416) {
        await sink.restart();
        return { reason: 'fetch-failed', why: `GET ${o.url}: 416 for bytes=${have}- (starting over next time)` };
      }
      if (res.status === 200 && have > 0) {
        await sink.restart();
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
          if (!(await sink.append(chunk))) {
            await res.body.cancel().catch(() => {});
            return { reason: 'hash-mismatch', why: `the server sent more than the signed ${o.bytes} bytes` };
          }
        }
      } catch (err) {
        return { reason: 'fetch-failed', why: `download cut at byte ${sink.have} of ${o.bytes}: ${causeOf(err)} (resumes from there)` };
      }
      if (sink.have < o.bytes) return { reason: 'fetch-failed', why: `download ended at byte ${sink.have} of ${o.bytes} (resumes from there)` };
      return null;
    } finally {
      if (idle) clock.clearTimeout(idle);
      o.signal?.removeEventListener('abort', onAbort);
    }
  };
}

function causeOf(err: unknown): string {
  const e = err as Error & { cause?: Error };
  return e.cause?.message ? `${e.message}: ${e.cause.message}` : (e.message ?? String(err));
}
