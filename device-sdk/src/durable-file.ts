import { closeSync, fchmodSync, fsyncSync, openSync, readlinkSync, renameSync, rmSync, symlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface DurableWriteOptions {
  /** The file's mode; default 0600, since most of what is written this way is a secret. */
  mode?: number;
  /**
   * Create only: fails with EEXIST when `path` exists, and never replaces it (a key whose public
   * half others already trust). The name is claimed by an empty file first, so a power cut
   * before the content is in place leaves an empty file, which every reader refuses.
   */
  exclusive?: boolean;
}

/**
 * Writes that survive a power cut at any instant: the old content or the new, never half of
 * either. A file is written beside its place (`.tmp`), fsynced, renamed over the old one, and
 * the directory fsynced so the rename itself is on disk. A `.tmp` left by a crash is harmless:
 * nothing reads it, and the next write starts it over.
 */
export function writeFileDurably(path: string, data: string | Buffer, opts: DurableWriteOptions = {}): void {
  const mode = opts.mode ?? 0o600;
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const tmp = `${path}.tmp`;
  if (opts.exclusive) closeSync(openSync(path, 'wx', mode));
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      // A stale `.tmp` keeps the mode it was made with: set it, so a secret is never readable by others.
      fchmodSync(fd, mode);
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    discard(tmp);
    if (opts.exclusive) discard(path);
    throw err;
  }
  syncDir(dirname(path));
}

/** Removes what a failed write left; a failure here must not hide the write's own error. */
function discard(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // Not a file (a directory in the way): left for the caller's error to explain.
  }
}

/**
 * What a file written by `writeFileDurably` holds as JSON, or an Error saying plainly what is
 * wrong with it. An empty or cut-off file is what a write torn by a power cut (by a writer
 * without fsync) or a failing SD card leaves; the caller wraps the reason in its coded error,
 * and never treats such a file as absent.
 */
export function parseStoredJson(text: string): unknown {
  if (text.trim().length === 0) throw new Error(`is empty (${text.length} bytes): a write cut off by a power loss or a failing storage card leaves this`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`is not JSON (${Buffer.byteLength(text)} bytes, ${(err as Error).message}): a write cut off by a power loss, a failing storage card, or a bad hand edit leaves this`);
  }
}

/**
 * Points the symlink `link` at `target` (relative, as the launcher does it: `ln -s V current.new
 * && mv -T current.new current`): rename(2) replaces the old link atomically.
 */
export function pointLinkDurably(link: string, target: string): void {
  if (linkTarget(link) === target) return;
  const next = `${link}.new`;
  rmSync(next, { force: true });
  symlinkSync(target, next);
  renameSync(next, link);
  syncDir(dirname(link));
}

/** Where `link` points (its text), or null when it is no symlink. */
function linkTarget(link: string): string | null {
  try {
    return readlinkSync(link);
  } catch {
    return null;
  }
}

/** Flushes a file written some other way (a stream) before it is renamed into place. */
export function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename is then as durable as they make it.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
