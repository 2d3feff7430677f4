/**
 * Builds small Raspberry Pi OS look-alike images for tests, from user space: an MBR made with
 * sfdisk, a FAT32 boot partition made with mkfs.vfat and filled with mtools (fake firmware files,
 * a real-looking config.txt and cmdline.txt), an ext4 root made with mkfs.ext4 -d.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const TOOLS = ['sfdisk', 'mkfs.vfat', 'mcopy', 'mmd', 'mdir', 'mkfs.ext4'] as const;

/** Throws loudly when a Debian tool the image tests need is missing. */
export function requireTools(): void {
  const missing = TOOLS.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    const msg = `!!! image tests need ${missing.join(', ')}: install Debian packages fdisk dosfstools mtools e2fsprogs (.ci/apt-packages)`;
    console.error(msg);
    throw new Error(msg);
  }
}

export const PI_CMDLINE = 'console=serial0,115200 console=tty1 root=PARTUUID=1234abcd-02 rootfstype=ext4 fsck.repair=yes rootwait quiet\n';
export const PI_CONFIG = '# For more options see config.txt docs\ndtparam=audio=on\ncamera_auto_detect=1\n\n[cm4]\notg_mode=1\n\n[all]\narm_64bit=1\n';

const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin`, MTOOLS_SKIP_CHECK: '1' };
const MB = 1024 * 1024;

export interface SyntheticOptions {
  /** Leave out the Raspberry Pi boot files (a foreign FAT image). */
  foreign?: boolean;
  bootMb?: number;
  rootMb?: number;
}

/** Writes `dir/name` and returns its path. Boot partition at 1 MiB, root right after. */
export function makePiImage(dir: string, name: string, opts: SyntheticOptions = {}): string {
  const bootMb = opts.bootMb ?? 40;
  const rootMb = opts.rootMb ?? 8;
  const img = join(dir, name);
  const bootFile = join(dir, `${name}.boot`);
  const rootFile = join(dir, `${name}.root`);

  execFileSync('mkfs.vfat', ['-F', '32', '-n', 'bootfs', '-C', bootFile, String(bootMb * 1024)], { env, stdio: 'pipe' });
  const files: Record<string, string | Buffer> = opts.foreign
    ? { 'README.TXT': 'not a pi\n', 'autorun.inf': '[autorun]\n' }
    : {
        'config.txt': PI_CONFIG,
        'cmdline.txt': PI_CMDLINE,
        'start4.elf': Buffer.alloc(4096, 0x5a),
        'fixup4.dat': Buffer.alloc(512, 0x11),
        'bcm2711-rpi-4-b.dtb': Buffer.alloc(1024, 0xd0),
        'bcm2712-rpi-5-b.dtb': Buffer.alloc(1024, 0xd1),
        'kernel8.img': Buffer.alloc(8192, 0x7f),
      };
  const staging = join(dir, `${name}.stage`);
  mkdirSync(staging, { recursive: true });
  for (const [n, d] of Object.entries(files)) {
    writeFileSync(join(staging, n), d);
    execFileSync('mcopy', ['-i', bootFile, join(staging, n), `::/${n}`], { env, stdio: 'pipe' });
  }

  const rootTree = join(dir, `${name}.rootfs`);
  mkdirSync(join(rootTree, 'etc'), { recursive: true });
  writeFileSync(join(rootTree, 'etc', 'fstab'), 'PARTUUID=1234abcd-01  /boot/firmware  vfat  defaults  0  2\n');
  writeFileSync(join(rootTree, 'etc', 'hostname'), 'raspberrypi\n');
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', rootTree, rootFile, `${rootMb}M`], { env, stdio: 'pipe' });

  const bootStart = 2048;
  const rootStart = bootStart + bootMb * 2048;
  const total = (rootStart + rootMb * 2048) * 512;
  const fd = openSync(img, 'w');
  try {
    writeSync(fd, Buffer.alloc(1), 0, 1, total - 1);
    writeSync(fd, readFileSync(bootFile), 0, bootMb * MB, bootStart * 512);
    writeSync(fd, readFileSync(rootFile), 0, rootMb * MB, rootStart * 512);
  } finally {
    closeSync(fd);
  }
  execFileSync('sfdisk', ['--no-reread', '--no-tell-kernel', '-q', img], {
    env,
    input: `label: dos\nlabel-id: 0x1234abcd\nstart=${bootStart}, size=${bootMb * 2048}, type=c\nstart=${rootStart}, size=${rootMb * 2048}, type=83\n`,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return img;
}
