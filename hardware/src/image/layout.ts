import { open } from 'node:fs/promises';
import { ImageError } from './errors.js';
import { FAT_TYPES, LINUX_TYPE, SECTOR, fatKind, isExtSuperblock, parseMbr, type FatKind, type MbrPartition } from './mbr.js';

/** Where the two partitions of a Raspberry Pi OS image are, as found in the file. */
export interface ImageLayout {
  sizeBytes: number;
  boot: MbrPartition & { fat: FatKind };
  root: MbrPartition;
}

async function readAt(fd: Awaited<ReturnType<typeof open>>, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fd.read(buf, 0, length, offset);
  return buf.subarray(0, bytesRead);
}

/**
 * Reads the partition table and checks the shape of a Raspberry Pi OS image: MBR, partition 1
 * FAT, partition 2 ext4, both inside the file. Throws a coded ImageError otherwise. Reads only
 * three small blocks, so it is cheap on a multi-GB image.
 */
export async function inspectImage(path: string): Promise<ImageLayout> {
  let fd;
  try {
    fd = await open(path, 'r');
  } catch (err) {
    throw new ImageError('FM_ERR_IMAGE_NOT_FOUND', `cannot open ${path}: ${(err as Error).message}`);
  }
  try {
    const { size } = await fd.stat();
    const parts = parseMbr(await readAt(fd, 0, SECTOR));
    const first = parts.find((p) => p.number === 1);
    if (!first || !FAT_TYPES.has(first.type)) {
      throw new ImageError(
        'FM_ERR_IMAGE_NO_BOOT_PARTITION',
        first ? `partition 1 of ${path} has type 0x${first.type.toString(16)}, not FAT` : `${path} has no partition 1`,
      );
    }
    for (const p of parts) {
      if (p.offsetBytes + p.sizeBytes > size) {
        throw new ImageError(
          'FM_ERR_IMAGE_PARTITION_OUT_OF_RANGE',
          `partition ${p.number} ends at byte ${p.offsetBytes + p.sizeBytes} but ${path} has ${size} bytes`,
        );
      }
    }
    const fat = fatKind(await readAt(fd, first.offsetBytes, SECTOR));
    if (!fat) throw new ImageError('FM_ERR_IMAGE_NO_BOOT_PARTITION', `partition 1 of ${path} has no FAT boot sector`);
    const root = parts.find((p) => p.number === 2);
    if (!root || root.type !== LINUX_TYPE || !isExtSuperblock(await readAt(fd, root.offsetBytes + 1024, 1024))) {
      throw new ImageError('FM_ERR_IMAGE_NO_ROOT_PARTITION', `partition 2 of ${path} is not an ext4 file system`);
    }
    return { sizeBytes: size, boot: { ...first, fat }, root };
  } finally {
    await fd.close();
  }
}
