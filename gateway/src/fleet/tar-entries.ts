import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import { createGunzip } from 'node:zlib';

/**
 * Reads the headers of a gzipped tar (ustar, GNU long names, pax paths) without extracting
 * anything, and says what is wrong with it as a release bundle, or null. `tar` extracts only
 * after this passed: every entry lies under `root/`, no absolute path or `..`, only files,
 * directories, and links that stay inside the tree; the unpacked size is bounded (a gzip bomb).
 */
export interface TarLimits {
  maxEntries: number;
  maxUnpackedBytes: number;
}

const DEFAULT_LIMITS: TarLimits = { maxEntries: 100_000, maxUnpackedBytes: 2 * 1024 * 1024 * 1024 };
/** Long names and pax records are small; a huge one is an attack on memory. */
const MAX_META_BYTES = 64 * 1024;

export async function tarProblem(file: string, root: string, limits: TarLimits = DEFAULT_LIMITS): Promise<string | null> {
  const scan = new TarScan(root, limits);
  const gunzip = createGunzip();
  const input = createReadStream(file);
  try {
    for await (const chunk of input.pipe(gunzip) as AsyncIterable<Buffer>) {
      const problem = scan.feed(chunk);
      if (problem !== null) return problem;
      if (scan.ended) break;
    }
  } catch (err) {
    return `not a gzipped tar: ${(err as Error).message}`;
  } finally {
    input.destroy();
    gunzip.destroy();
  }
  if (!scan.ended && scan.entries === 0) return 'not a tar archive (no entry)';
  return scan.entries === 0 ? 'an empty archive' : null;
}

class TarScan {
  entries = 0;
  ended = false;
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes of the current entry's data still to skip (padding included). */
  private skip = 0;
  /** Collects the data of a long-name or pax entry, which names the next one. */
  private meta: { type: string; size: number; chunks: Buffer[]; got: number; pad: number } | null = null;
  private nextName: string | null = null;
  private nextLink: string | null = null;
  private unpacked = 0;

  constructor(
    private readonly root: string,
    private readonly limits: TarLimits,
  ) {}

  feed(chunk: Buffer): string | null {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.ended) return null;
      if (this.meta) {
        const take = Math.min(this.buf.length, this.meta.size - this.meta.got);
        this.meta.chunks.push(this.buf.subarray(0, take));
        this.meta.got += take;
        this.buf = this.buf.subarray(take);
        if (this.meta.got < this.meta.size) return null;
        const problem = this.endMeta(Buffer.concat(this.meta.chunks));
        this.skip = this.meta.pad;
        this.meta = null;
        if (problem) return problem;
      }
      if (this.skip > 0) {
        const take = Math.min(this.skip, this.buf.length);
        this.skip -= take;
        this.buf = this.buf.subarray(take);
        if (this.skip > 0) return null;
      }
      if (this.buf.length < 512) return null;
      const h = this.buf.subarray(0, 512);
      this.buf = this.buf.subarray(512);
      const problem = this.header(h);
      if (problem) return problem;
    }
  }

  private header(h: Buffer): string | null {
    if (h.every((b) => b === 0)) {
      this.ended = true;
      return null;
    }
    const stored = parseOctal(h.subarray(148, 156));
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (stored === null || stored !== sum) return 'not a tar archive (header checksum)';
    const size = parseSize(h.subarray(124, 136));
    if (size === null) return 'an entry with an unreadable size';
    const type = String.fromCharCode(h[156]!);
    const padded = Math.ceil(size / 512) * 512;
    if (type === 'L' || type === 'K' || type === 'x' || type === 'g') {
      if (size > MAX_META_BYTES) return `a ${size}-byte tar extension header`;
      this.meta = { type, size, chunks: [], got: 0, pad: padded - size };
      return null;
    }
    if (++this.entries > this.limits.maxEntries) return `more than ${this.limits.maxEntries} entries`;
    const magic = h.subarray(257, 262).toString('latin1');
    const prefix = magic === 'ustar' ? cString(h.subarray(345, 500)) : '';
    const name = this.nextName ?? (prefix ? `${prefix}/${cString(h.subarray(0, 100))}` : cString(h.subarray(0, 100)));
    const link = this.nextLink ?? cString(h.subarray(157, 257));
    this.nextName = null;
    this.nextLink = null;
    const bad = this.entryProblem(name, type, link);
    if (bad) return bad;
    if (type === '0' || type === '\0' || type === '7') {
      this.unpacked += size;
      if (this.unpacked > this.limits.maxUnpackedBytes) return `unpacks to more than ${this.limits.maxUnpackedBytes} bytes`;
      this.skip = padded;
    } else if (size > 0) this.skip = padded;
    return null;
  }

  private entryProblem(name: string, type: string, link: string): string | null {
    const path = inside(name, this.root);
    if (path === null) return `entry ${JSON.stringify(name.slice(0, 120))} is not inside ${this.root}/ (absolute, .. or outside)`;
    if (type === '5' || type === '0' || type === '\0' || type === '7') return null;
    if (type === '1') return inside(link, this.root) === null ? `hard link ${JSON.stringify(name.slice(0, 120))} points outside ${this.root}/` : null;
    if (type === '2') {
      if (link === '' || link.startsWith('/')) return `symlink ${JSON.stringify(name.slice(0, 120))} → ${JSON.stringify(link.slice(0, 120))} is absolute`;
      const resolved = posix.normalize(posix.join(posix.dirname(path), link));
      return inside(resolved, this.root) === null ? `symlink ${JSON.stringify(name.slice(0, 120))} → ${JSON.stringify(link.slice(0, 120))} leaves ${this.root}/` : null;
    }
    return `entry ${JSON.stringify(name.slice(0, 120))} is of tar type ${JSON.stringify(type)} (devices, fifos and others are not in a bundle)`;
  }

  private endMeta(data: Buffer): string | null {
    const type = this.meta!.type;
    if (type === 'L') this.nextName = cString(data);
    else if (type === 'K') this.nextLink = cString(data);
    else {
      // pax records: "<len> key=value\n"; a global header's path would apply to every entry.
      for (const rec of paxRecords(data)) {
        if (rec === null) return 'a malformed pax header';
        if (rec.key === 'path') {
          if (type === 'g') return 'a global pax header setting a path';
          this.nextName = rec.value;
        }
        if (rec.key === 'linkpath' && type === 'x') this.nextLink = rec.value;
      }
    }
    return null;
  }
}

/** `name` normalized, when it is `root` or under `root/` with no `..` and not absolute; else null. */
function inside(name: string, root: string): string | null {
  if (name.startsWith('/') || name.includes('\0')) return null;
  const n = posix.normalize(name.replace(/^(\.\/)+/, '')).replace(/\/+$/, '');
  if (n.split('/').includes('..')) return null;
  return n === root || n.startsWith(`${root}/`) ? n : null;
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end === -1 ? b.length : end).toString('utf8');
}

function parseOctal(b: Buffer): number | null {
  const s = cString(b).trim();
  return /^[0-7]+$/.test(s) ? parseInt(s, 8) : null;
}

/** Size field: octal, or GNU base-256 for files over 8 GiB (a bundle never is, so refused as too big). */
function parseSize(b: Buffer): number | null {
  if (b[0]! & 0x80) return Number.MAX_SAFE_INTEGER;
  const s = cString(b).trim();
  if (s === '') return 0;
  return /^[0-7]+$/.test(s) ? parseInt(s, 8) : null;
}

function* paxRecords(data: Buffer): Generator<{ key: string; value: string } | null> {
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(0x20, at);
    const len = sp === -1 ? NaN : Number(data.subarray(at, sp).toString('latin1'));
    if (!Number.isSafeInteger(len) || len <= 0 || at + len > data.length) return yield null;
    const rec = data.subarray(sp + 1, at + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq <= 0) return yield null;
    yield { key: rec.slice(0, eq), value: rec.slice(eq + 1) };
    at += len;
  }
}
