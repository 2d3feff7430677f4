import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isImageError } from '#hardware/image/errors';
import { flashImage, openSink, type FlashProgress } from '#hardware/image/flash/flash';
import { blockFamily, checkBlockTarget, checkFileTarget, majMinOf, type HostPaths } from '#hardware/image/flash/host-disks';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
    return undefined;
  } catch (err) {
    return isImageError(err) ? err.code : String(err);
  }
}

let dir: string;
let image: string;
let imageBytes: Buffer;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fm-flash-'));
  image = join(dir, 'gw.img');
  // 9 MiB + 512 B: not a multiple of the chunk size, to cover the tail.
  imageBytes = randomBytes(9 * 2 ** 20 + 512);
  writeFileSync(image, imageBytes);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('flashImage to a plain file', () => {
  it('writes, reads back, verifies, and reports progress for both phases', async () => {
    const target = join(dir, 'card.bin');
    writeFileSync(target, Buffer.alloc(20 * 2 ** 20, 0xff)); // a bigger, dirty "card": truncated to the image
    const seen: FlashProgress[] = [];
    const r = await flashImage({ image, device: target, chunkBytes: 1 << 20, onProgress: (p) => seen.push(p) });
    expect(r.kind).toBe('file');
    expect(r.sha256).toBe(sha(imageBytes));
    expect(readFileSync(target).equals(imageBytes)).toBe(true);
    const writes = seen.filter((p) => p.phase === 'write');
    expect(writes.length).toBe(10);
    expect(writes.at(-1)!.done).toBe(imageBytes.length);
    expect(seen.filter((p) => p.phase === 'verify').at(-1)!.done).toBe(imageBytes.length);
    expect(seen.findIndex((p) => p.phase === 'verify')).toBeGreaterThan(seen.findLastIndex((p) => p.phase === 'write'));
  });

  it('detects a corrupted write (one flipped bit on the way to the medium)', async () => {
    const target = join(dir, 'bad.bin');
    const code = await codeOf(
      flashImage({
        image,
        device: target,
        openSink: async (path, kind) => {
          const real = await openSink(path, kind);
          return {
            ...real,
            async write(data, position) {
              const at = 5 * 2 ** 20 + 17 - position;
              if (at >= 0 && at < data.length) {
                const copy = Buffer.from(data);
                copy[at]! ^= 0x01;
                return real.write(copy, position);
              }
              return real.write(data, position);
            },
          };
        },
      }),
    );
    expect(code).toBe('FM_ERR_FLASH_VERIFY_FAILED');
  });

  it('detects a short read-back (a card that lost its tail)', async () => {
    const code = await codeOf(
      flashImage({
        image,
        device: join(dir, 'short.bin'),
        readBack: async function* () {
          yield imageBytes.subarray(0, 1000);
        },
      }),
    );
    expect(code).toBe('FM_ERR_FLASH_VERIFY_FAILED');
  });

  it('refuses the image itself, a directory, and a missing image', async () => {
    expect(await codeOf(flashImage({ image, device: image }))).toBe('FM_ERR_FLASH_SAME_FILE');
    const link = join(dir, 'link.img');
    symlinkSync(image, link);
    expect(await codeOf(flashImage({ image, device: link }))).toBe('FM_ERR_FLASH_SAME_FILE');
    expect(await codeOf(flashImage({ image, device: dir }))).toBe('FM_ERR_FLASH_TARGET_INVALID');
    expect(await codeOf(flashImage({ image: join(dir, 'nope.img'), device: join(dir, 'x.bin') }))).toBe('FM_ERR_IMAGE_NOT_FOUND');
    expect(await codeOf(flashImage({ image, device: '/dev/null' }))).toBe('FM_ERR_FLASH_TARGET_INVALID');
  });
});

/**
 * A fake /proc and /sys: disk sda (8:0) with sda1 (8:1) and sda2 (8:2, under LVM as dm-0 253:0),
 * disk mmcblk0 (179:0) with mmcblk0p1/p2, disk sdb (8:16) with sdb1 (8:17), loop0 backed by a file.
 */
function fakeHost(root: string, mountinfo: string, mounts = '', swaps = 'Filename Type Size Used Priority\n'): HostPaths {
  const sys = join(root, 'sys');
  const proc = join(root, 'proc');
  const dev = (p: string, mm: string) => {
    mkdirSync(p, { recursive: true });
    writeFileSync(join(p, 'dev'), `${mm}\n`);
    writeFileSync(join(p, 'size'), '62333952\n');
  };
  const disk = (path: string, name: string, mm: string, parts: Array<[string, string, string?]>) => {
    const d = join(sys, 'devices', path, 'block', name);
    dev(d, mm);
    mkdirSync(join(sys, 'dev', 'block'), { recursive: true });
    symlinkSync(d, join(sys, 'dev', 'block', mm));
    for (const [pn, pmm, holder] of parts) {
      dev(join(d, pn), pmm);
      writeFileSync(join(d, pn, 'partition'), '1\n');
      symlinkSync(join(d, pn), join(sys, 'dev', 'block', pmm));
      if (holder) {
        mkdirSync(join(d, pn, 'holders', holder), { recursive: true });
        dev(join(sys, 'class', 'block', holder), '253:0');
      }
    }
  };
  disk('pci0/usb1', 'sda', '8:0', [['sda1', '8:1'], ['sda2', '8:2', 'dm-0']]);
  disk('platform/mmc', 'mmcblk0', '179:0', [['mmcblk0p1', '179:1'], ['mmcblk0p2', '179:2']]);
  disk('pci0/usb2', 'sdb', '8:16', [['sdb1', '8:17']]);
  const loop = join(sys, 'block', 'loop0', 'loop');
  mkdirSync(loop, { recursive: true });
  writeFileSync(join(loop, 'backing_file'), '/srv/attached.img\n');
  mkdirSync(join(proc, 'self'), { recursive: true });
  writeFileSync(join(proc, 'self', 'mountinfo'), mountinfo);
  writeFileSync(join(proc, 'mounts'), mounts);
  writeFileSync(join(proc, 'swaps'), swaps);
  return { proc, sys };
}

const mi = (id: number, mm: string, mountPoint: string, source: string, fstype = 'ext4') => `${id} 1 ${mm} / ${mountPoint} rw,relatime shared:1 - ${fstype} ${source} rw\n`;

describe('refusing mounted and system disks (fake /proc and /sys)', () => {
  let n = 0;
  const host = (mountinfo: string, mounts?: string, swaps?: string) => fakeHost(join(dir, `host${n++}`), mountinfo, mounts, swaps);
  const base = mi(20, '179:2', '/', '/dev/mmcblk0p2') + mi(21, '179:1', '/boot/firmware', '/dev/mmcblk0p1', 'vfat') + mi(22, '0:5', '/proc', 'proc', 'proc');

  it('knows a disk family: partitions and LVM holders', () => {
    const f = blockFamily('8:1', host(base))!;
    expect(f.disk).toBe('sda');
    expect([...f.names].sort()).toEqual(['dm-0', 'sda', 'sda1', 'sda2']);
    expect(f.devs.has('253:0')).toBe(true);
  });

  it('accepts an unmounted card', () => {
    expect(checkBlockTarget('8:16', '/dev/sdb', host(base)).disk).toBe('sdb');
  });

  it('refuses the disk the system runs from, by whole disk or partition', async () => {
    const h = host(base);
    expect(await codeOf(() => checkBlockTarget('179:0', '/dev/mmcblk0', h))).toBe('FM_ERR_FLASH_SYSTEM_DISK');
    expect(await codeOf(() => checkBlockTarget('179:1', '/dev/mmcblk0p1', h))).toBe('FM_ERR_FLASH_SYSTEM_DISK');
    // Root on LVM on sda2: the disk is still the system's.
    expect(await codeOf(() => checkBlockTarget('8:0', '/dev/sda', host(mi(30, '253:0', '/', '/dev/mapper/vg-root'))))).toBe('FM_ERR_FLASH_SYSTEM_DISK');
    // Active swap on the card.
    expect(await codeOf(() => checkBlockTarget('8:16', '/dev/sdb', host(base, '', 'Filename Type Size Used Priority\n/dev/sdb1 partition 1024 0 -2\n')))).toBe('FM_ERR_FLASH_SYSTEM_DISK');
  });

  it('refuses a card with any partition mounted (mountinfo or /proc/mounts)', async () => {
    expect(await codeOf(() => checkBlockTarget('8:16', '/dev/sdb', host(base + mi(40, '8:17', '/media/card', '/dev/sdb1', 'vfat'))))).toBe('FM_ERR_FLASH_TARGET_MOUNTED');
    expect(await codeOf(() => checkBlockTarget('8:0', '/dev/sda', host(base + mi(41, '253:0', '/srv', '/dev/mapper/vg-data'))))).toBe('FM_ERR_FLASH_TARGET_MOUNTED');
    // A btrfs mount shows a virtual major:minor in mountinfo; /proc/mounts still names the device.
    expect(await codeOf(() => checkBlockTarget('8:16', '/dev/sdb', host(base + mi(42, '0:44', '/data', '/dev/sdb1', 'btrfs'), '/dev/sdb1 /data btrfs rw 0 0\n')))).toBe('FM_ERR_FLASH_TARGET_MOUNTED');
    expect(await codeOf(() => checkBlockTarget('8:16', '/dev/sdb', host(base, '/dev/sdb1 /mnt vfat rw 0 0\n')))).toBe('FM_ERR_FLASH_TARGET_MOUNTED');
  });

  it('refuses a file attached to a loop device, and unknown devices', async () => {
    const h = host(base);
    expect(await codeOf(() => checkFileTarget('/srv/attached.img', h))).toBe('FM_ERR_FLASH_TARGET_MOUNTED');
    expect(await codeOf(() => checkFileTarget('/srv/other.img', h))).toBeUndefined();
    expect(await codeOf(() => checkBlockTarget('9:9', '/dev/md9', h))).toBe('FM_ERR_FLASH_TARGET_INVALID');
  });

  it('decodes major:minor from rdev like glibc', () => {
    expect(majMinOf(0x0801)).toBe('8:1');
    expect(majMinOf(0xb302)).toBe('179:2');
    expect(majMinOf(259 * 256 + 0)).toBe('259:0');
    // minor >= 256: glibc puts minor bits 8-19 at dev bits 20-31 (makedev in sysmacros.h)
    expect(majMinOf(0x12300845)).toBe(`8:${0x12345}`);
  });
});

describe('fieldmesh flash CLI', () => {
  it('flashes to a file with progress on stderr, and refuses bad input with a code', () => {
    const target = join(dir, 'cli.bin');
    const cli = (args: string[]) => spawnSync(process.execPath, [join(repo, 'gateway/bin/fieldmesh.js'), 'flash', ...args], { encoding: 'utf8', cwd: repo, timeout: 120_000 });
    const ok = cli(['--image', image, '--device', target]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/writing\s+100%/u);
    expect(ok.stderr).toMatch(/verifying\s+100%/u);
    expect(ok.stdout).toContain(`verified sha256 ${sha(imageBytes)}`);
    const same = cli(['--image', image, '--device', image]);
    expect(same.status).toBe(1);
    expect(same.stderr).toContain('FM_ERR_FLASH_SAME_FILE');
    expect(cli(['--image', image]).status).toBe(2);
  });
});
