import { ImageError } from './errors.js';

/*
 * MBR layout (the classic IBM PC partition table, as Raspberry Pi OS images use):
 *   offset 446: four 16-byte entries; offset 510: signature 0x55 0xAA.
 *   entry: [0] status (0x80 = bootable), [4] type, [8..11] first LBA (LE u32),
 *          [12..15] sector count (LE u32). Sectors are 512 bytes.
 * A type 0xEE entry is a GPT protective MBR: not a Raspberry Pi OS image.
 *
 * FAT boot sector: 0x55AA at 510; "FAT12   "/"FAT16   " at 54 or "FAT32   " at 82.
 * ext2/3/4 superblock: 1024 bytes into the partition; magic 0xEF53 (LE) at +56.
 */

export const SECTOR = 512;

export interface MbrPartition {
  /** 1-based entry number (as /dev/sdX1). */
  number: number;
  type: number;
  bootable: boolean;
  startLba: number;
  sectors: number;
  offsetBytes: number;
  sizeBytes: number;
}

/** MBR partition types a FAT boot partition may carry (FAT32 LBA 0x0c is what Pi OS uses). */
export const FAT_TYPES: ReadonlySet<number> = new Set([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e]);
export const LINUX_TYPE = 0x83;

export function parseMbr(sector0: Buffer): MbrPartition[] {
  if (sector0.length < SECTOR || sector0[510] !== 0x55 || sector0[511] !== 0xaa) {
    throw new ImageError('FM_ERR_IMAGE_NO_MBR', 'no MBR signature 0x55AA in the first sector');
  }
  const parts: MbrPartition[] = [];
  for (let i = 0; i < 4; i++) {
    const e = 446 + i * 16;
    const status = sector0[e]!;
    const type = sector0[e + 4]!;
    const startLba = sector0.readUInt32LE(e + 8);
    const sectors = sector0.readUInt32LE(e + 12);
    if (type === 0 || sectors === 0) continue;
    if (type === 0xee) throw new ImageError('FM_ERR_IMAGE_NO_MBR', 'the image has a GPT (protective MBR entry 0xEE)');
    if (status !== 0x00 && status !== 0x80) {
      throw new ImageError('FM_ERR_IMAGE_NO_MBR', `partition entry ${i + 1} has an invalid status byte 0x${status.toString(16)}`);
    }
    parts.push({
      number: i + 1,
      type,
      bootable: status === 0x80,
      startLba,
      sectors,
      offsetBytes: startLba * SECTOR,
      sizeBytes: sectors * SECTOR,
    });
  }
  return parts;
}

export type FatKind = 'FAT12' | 'FAT16' | 'FAT32';

export function fatKind(bootSector: Buffer): FatKind | undefined {
  if (bootSector.length < SECTOR || bootSector[510] !== 0x55 || bootSector[511] !== 0xaa) return undefined;
  const at82 = bootSector.toString('latin1', 82, 90);
  if (at82 === 'FAT32   ') return 'FAT32';
  const at54 = bootSector.toString('latin1', 54, 62);
  if (at54 === 'FAT16   ') return 'FAT16';
  if (at54 === 'FAT12   ') return 'FAT12';
  return undefined;
}

export function isExtSuperblock(superblock: Buffer): boolean {
  return superblock.length >= 58 && superblock.readUInt16LE(56) === 0xef53;
}
