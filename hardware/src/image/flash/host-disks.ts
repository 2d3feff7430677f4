import { readFileSync, readdirSync, realpathSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ImageError } from '../errors.js';

/**
 * Which disks a flash must not touch, from the kernel's own tables:
 *   /proc/self/mountinfo  field 3 is the major:minor of each mounted file system (man proc(5));
 *   /proc/mounts          the source device path of each mount;
 *   /proc/swaps           active swap devices;
 *   /sys/dev/block/M:m    a symlink to the block device's sysfs directory; a partition's directory
 *                         has a `partition` file and sits inside its disk's directory; `holders/`
 *                         lists device-mapper/RAID devices built on it (LVM, LUKS).
 * The roots are parameters so tests run against a fake /proc and /sys tree.
 */
export interface HostPaths {
  proc: string;
  sys: string;
}

export const REAL_HOST: HostPaths = { proc: '/proc', sys: '/sys' };

/** Mount points whose disk is "the disk the system runs from". */
const SYSTEM_MOUNTS = new Set(['/', '/boot', '/boot/firmware', '/boot/efi', '/usr', '/var', '/home']);

export interface BlockFamily {
  disk: string;
  /** major:minor of the disk, its partitions and their holders. */
  devs: Set<string>;
  /** Kernel names (sda, sda1, dm-0…) of the same. */
  names: Set<string>;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function listDirs(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true })
      .filter((e) => e.isDirectory() || e.isSymbolicLink())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/** The whole disk a block device belongs to, with every partition and holder on it. */
export function blockFamily(majMin: string, host: HostPaths = REAL_HOST): BlockFamily | undefined {
  let dir: string;
  try {
    dir = realpathSync(join(host.sys, 'dev', 'block', majMin));
  } catch {
    return undefined;
  }
  const diskDir = existsSync(join(dir, 'partition')) ? dirname(dir) : dir;
  const devs = new Set<string>();
  const names = new Set<string>();
  const add = (name: string, dev: string) => {
    names.add(name);
    if (dev) devs.add(dev);
  };
  const addHolders = (d: string) => {
    for (const h of listDirs(join(d, 'holders'))) add(h, read(join(host.sys, 'class', 'block', h, 'dev')).trim());
  };
  add(basename(diskDir), read(join(diskDir, 'dev')).trim());
  addHolders(diskDir);
  for (const sub of listDirs(diskDir)) {
    const p = join(diskDir, sub);
    if (!existsSync(join(p, 'partition'))) continue;
    add(sub, read(join(p, 'dev')).trim());
    addHolders(p);
  }
  return { disk: basename(diskDir), devs, names };
}

interface MountEntry {
  dev: string;
  mountPoint: string;
  source: string;
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (f.length < 10 || sep < 6) continue;
    out.push({ dev: f[2]!, mountPoint: f[4]!.replace(/\\040/gu, ' '), source: f[sep + 2] ?? '' });
  }
  return out;
}

/** Refuses a block device that is, or shares a disk with, the running system or a mount. */
export function checkBlockTarget(majMin: string, devicePath: string, host: HostPaths = REAL_HOST): BlockFamily {
  const family = blockFamily(majMin, host);
  if (!family) throw new ImageError('FM_ERR_FLASH_TARGET_INVALID', `${devicePath} (${majMin}) is not in ${host.sys}/dev/block`);
  const mounts = parseMountinfo(read(join(host.proc, 'self', 'mountinfo')));
  const devName = (source: string) => (source.startsWith('/dev/') ? basename(source) : '');

  for (const m of mounts) {
    if (!SYSTEM_MOUNTS.has(m.mountPoint)) continue;
    const sys = blockFamily(m.dev, host);
    if ((sys && sys.disk === family.disk) || family.devs.has(m.dev) || family.names.has(devName(m.source))) {
      throw new ImageError('FM_ERR_FLASH_SYSTEM_DISK', `${devicePath} is disk ${family.disk}, which holds ${m.mountPoint} of the running system`);
    }
  }
  const swaps = read(join(host.proc, 'swaps')).split('\n').slice(1).map((l) => l.split(/\s+/u)[0] ?? '');
  for (const s of swaps) {
    if (s && family.names.has(devName(s))) throw new ImageError('FM_ERR_FLASH_SYSTEM_DISK', `${devicePath} holds the active swap ${s}`);
  }
  for (const m of mounts) {
    if (family.devs.has(m.dev) || family.names.has(devName(m.source))) {
      throw new ImageError('FM_ERR_FLASH_TARGET_MOUNTED', `${devicePath}: ${m.source || m.dev} is mounted on ${m.mountPoint}`);
    }
  }
  // /proc/mounts too: on some systems mountinfo's major:minor is a virtual one (btrfs, overlay).
  for (const line of read(join(host.proc, 'mounts')).split('\n')) {
    const [source, mountPoint] = line.split(' ');
    if (source && family.names.has(devName(source))) {
      throw new ImageError('FM_ERR_FLASH_TARGET_MOUNTED', `${devicePath}: ${source} is mounted on ${mountPoint}`);
    }
  }
  return family;
}

/** A plain-file target must not be the backing file of a loop device that is in use. */
export function checkFileTarget(realTarget: string, host: HostPaths = REAL_HOST): void {
  for (const name of listDirs(join(host.sys, 'block'))) {
    if (!name.startsWith('loop')) continue;
    const backing = read(join(host.sys, 'block', name, 'loop', 'backing_file')).trim();
    if (backing && backing === realTarget) {
      throw new ImageError('FM_ERR_FLASH_TARGET_MOUNTED', `${realTarget} is attached to /dev/${name}; detach it (losetup -d /dev/${name})`);
    }
  }
}

/** major:minor from a stat().rdev (glibc's gnu_dev_major/minor encoding). */
export function majMinOf(rdev: number): string {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  const major = ((lo >>> 8) & 0xfff) | ((hi & 0xfffff000) >>> 0);
  const minor = (lo & 0xff) | ((lo >>> 12) & 0xfff00);
  return `${major}:${minor}`;
}

/** Size in bytes of a block device, from sysfs (`size` counts 512-byte sectors). */
export function blockDeviceBytes(majMin: string, host: HostPaths = REAL_HOST): number | undefined {
  const sectors = Number(read(join(host.sys, 'dev', 'block', majMin, 'size')).trim());
  return Number.isFinite(sectors) && sectors > 0 ? sectors * 512 : undefined;
}
