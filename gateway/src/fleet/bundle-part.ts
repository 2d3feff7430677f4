import { sha256OfFile } from '@fieldmesh/device-sdk/file-digest';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncDir } from '@fieldmesh/device-sdk/durable-file';

/** Where a bundle goes and what it must be (both transports: bundle-fetch.ts, bundle-mqtt.ts). */
export interface BundleTarget {
  /** `downloads/<v>.tgz.part`, grown across attempts; `downloads/<v>.tgz` once hash-checked. */
  part: string;
  final: string;
  /** Signed size and SHA-256 (hex) of the bundle: nothing past `bytes` is ever written. */
  bytes: number;
  sha256: string;
  signal?: AbortSignal;
  /** Bytes written in this attempt so far, as they arrive. */
  onProgress?(moved: number): void;
}

export type BundleFetchResult =
  | { ok: true; moved: number; resumedFrom: number }
  | { ok: false; reason: 'fetch-failed' | 'hash-mismatch'; why: string; moved: number };

export type DownloadFailure = { reason: 'fetch-failed' | 'hash-mismatch'; why: string };

/** The part file as a transport sees it: appended to in order, never past the signed size. */
export interface PartSink {
  /** Bytes in the part now: where the transport continues. */
  readonly have: number;
  /** Appends; false (nothing written, the part emptied) when it would pass the signed size. */
  append(chunk: Uint8Array): Promise<boolean>;
  /** Empties the part (the server starts the file over). */
  restart(): Promise<void>;
}

/** One attempt of a transport: fills the sink from `sink.have`; null when it holds `bytes` bytes. */
export type BundleDownload = (sink: PartSink) => Promise<DownloadFailure | null>;

/**
 * Resumable, hash-checked download, whatever carries the bytes: what is in `.part` is kept and
 * the rest asked for from its size. More bytes than signed, or a wrong hash, deletes the part; a
 * cut connection keeps it. Only a file whose SHA-256 matches the signed one is renamed to `.tgz`,
 * so a `.tgz` is always a checked bundle.
 */
export async function fetchInto(o: BundleTarget, download: BundleDownload): Promise<BundleFetchResult> {
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
    const file = await open(o.part, 'a');
    try {
      const got = await download(partSink(file, have, o.bytes, (n) => {
        moved += n;
        o.onProgress?.(moved);
      }));
      if (got !== null) return { ok: false, reason: got.reason, why: got.why, moved };
    } finally {
      await file.sync().catch(() => {});
      await file.close();
    }
  }
  if ((await sha256OfFile(o.part)) !== o.sha256) {
    await rm(o.part, { force: true });
    return { ok: false, reason: 'hash-mismatch', why: `the bundle's SHA-256 is not the signed ${o.sha256.slice(0, 12)}…`, moved };
  }
  await rename(o.part, o.final);
  syncDir(dirname(o.final));
  return { ok: true, moved, resumedFrom };
}

function partSink(file: FileHandle, start: number, bytes: number, count: (n: number) => void): PartSink {
  let have = start;
  return {
    get have() {
      return have;
    },
    async append(chunk) {
      if (have + chunk.length > bytes) {
        await file.truncate(0);
        have = 0;
        return false;
      }
      await file.write(chunk);
      have += chunk.length;
      count(chunk.length);
      return true;
    },
    async restart() {
      await file.truncate(0);
      have = 0;
    },
  };
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}
