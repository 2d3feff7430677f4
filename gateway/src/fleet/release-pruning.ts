import { readdirSync, renameSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { isReleaseVersion } from '@fieldmesh/protocol';

/**
 * Releases are installed side by side, so the releases directory would grow by one release per
 * update on an SD card that does not. Once a switch is confirmed, only what runs and what the
 * launcher could roll back to stay; everything else that looks like a release goes. Names that
 * are not release versions (the links, anything put there by hand) are never touched.
 */
export function pruneReleases(releasesDir: string, keep: readonly string[]): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(releasesDir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const version = name.endsWith('.partial') ? name.slice(0, -'.partial'.length) : name;
    if (!isReleaseVersion(version) || (keep.includes(version) && name === version)) continue;
    // Renamed to `.partial` first: a kill halfway through the removal leaves a tree no start
    // mistakes for an installed release (partial trees are always thrown away).
    const partial = join(releasesDir, `${version}.partial`);
    if (name === version) {
      rmSync(partial, { recursive: true, force: true });
      renameSync(join(releasesDir, name), partial);
    }
    rmSync(partial, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Room for a bundle of `bytes`: the download, its unpacked tree (a few times the gzip) and a
 * margin, so an update never fills the disk the reading log lives on. Null when there is room
 * (or the file system cannot say), else why not.
 */
export function roomProblem(dirs: readonly string[], bytes: number): string | null {
  const need = bytes * 4 + 64 * 1024 * 1024;
  for (const dir of dirs) {
    try {
      const s = statfsSync(dir);
      const free = s.bavail * s.bsize;
      if (free < need) return `${dir} has ${Math.floor(free / 1048576)} MiB free; a ${Math.ceil(bytes / 1048576)} MiB bundle needs ${Math.ceil(need / 1048576)} MiB`;
    } catch {
      // No statfs here: the download and unpack fail on their own if the disk fills.
    }
  }
  return null;
}
