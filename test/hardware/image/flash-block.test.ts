import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { isImageError } from '#hardware/image/errors';
import { flashImage } from '#hardware/image/flash/flash';
import { checkBlockTarget, majMinOf } from '#hardware/image/flash/host-disks';

/**
 * Real block devices: loop devices over temp files (needs root and /dev/loop-control). Where
 * that is missing the tests say so loudly; the plain-file path is covered in flash.test.ts.
 */
const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` };
const canLoop = (() => {
  const r = spawnSync('losetup', ['-f'], { env, encoding: 'utf8' });
  return r.status === 0 && r.stdout.startsWith('/dev/loop');
})();
if (!canLoop) console.error('!!! flash-block tests: no usable loop devices (need root and losetup); the block-device path is NOT tested here');

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
    return undefined;
  } catch (err) {
    return isImageError(err) ? err.code : String(err);
  }
}

describe.runIf(canLoop)('flash to a real block device (loop)', () => {
  let dir: string;
  const loops: string[] = [];
  const mounts: string[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fm-flash-block-'));
  });
  afterEach(() => {
    for (const m of mounts.splice(0)) spawnSync('umount', [m], { env });
    for (const l of loops.splice(0)) spawnSync('losetup', ['-d', l], { env });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const attach = (file: string) => {
    const dev = execFileSync('losetup', ['--show', '-f', file], { env, encoding: 'utf8' }).trim();
    loops.push(dev);
    return dev;
  };

  it('writes and verifies with an O_DIRECT read-back; refuses the backing file while attached', async () => {
    const image = join(dir, 'gw.img');
    const bytes = randomBytes(8 * 2 ** 20);
    writeFileSync(image, bytes);
    const card = join(dir, 'card.raw');
    writeFileSync(card, Buffer.alloc(16 * 2 ** 20));
    const dev = attach(card);
    const r = await flashImage({ image, device: dev });
    expect(r.kind).toBe('block');
    expect(r.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(readFileSync(card).subarray(0, bytes.length).equals(bytes)).toBe(true);
    expect(await codeOf(flashImage({ image, device: card }))).toBe('FM_ERR_FLASH_TARGET_MOUNTED');
  });

  it('refuses a mounted device, and one too small for the image', async () => {
    const card = join(dir, 'mounted.raw');
    writeFileSync(card, Buffer.alloc(8 * 2 ** 20));
    execFileSync('mkfs.ext4', ['-q', '-F', card], { env });
    const dev = attach(card);
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt, { recursive: true });
    const m = spawnSync('mount', [dev, mnt], { env, encoding: 'utf8' });
    if (m.status !== 0) {
      console.error(`!!! cannot mount a loop device here (${m.stderr.trim()}): the mounted-device refusal is NOT tested on a real mount`);
    } else {
      mounts.push(mnt);
      const image = join(dir, 'small.img');
      writeFileSync(image, randomBytes(2 ** 20));
      expect(await codeOf(flashImage({ image, device: dev }))).toBe('FM_ERR_FLASH_TARGET_MOUNTED');
      spawnSync('umount', [mnt], { env });
      mounts.pop();
    }
    const big = join(dir, 'big.img');
    writeFileSync(big, Buffer.alloc(9 * 2 ** 20));
    expect(await codeOf(flashImage({ image: big, device: dev }))).toBe('FM_ERR_FLASH_TARGET_TOO_SMALL');
  });

  it('refuses the disk this system runs from (checked without writing anything)', () => {
    const rootDev = statSync('/').dev;
    const mm = majMinOf(rootDev);
    const sysDir = spawnSync('readlink', ['-f', `/sys/dev/block/${mm}`], { encoding: 'utf8' }).stdout.trim();
    if (!sysDir.includes('/block/')) {
      console.error(`!!! / is on ${mm}, not a block device (overlay?): system-disk refusal tested only on the fake tree`);
      return;
    }
    let code: string | undefined;
    try {
      checkBlockTarget(mm, `/dev/root (${mm})`);
    } catch (err) {
      code = isImageError(err) ? err.code : String(err);
    }
    expect(code).toBe('FM_ERR_FLASH_SYSTEM_DISK');
  });
});
