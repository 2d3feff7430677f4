import { closeSync, fsyncSync, openSync, readlinkSync, renameSync, rmSync, symlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes that survive a power cut at any instant: the old content or the new, never half of
 * either. A file is written beside its place (`.tmp`), fsynced, renamed over the old one, and
 * the directory fsynced so the rename itself is on disk.
 */
export function writeFileDurably(path: string, text: string | Buffer): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  syncDir(dirname(path));
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
