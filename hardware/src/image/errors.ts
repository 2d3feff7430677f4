import { codedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of the image tooling (`fieldmesh image`, `fieldmesh flash`, `npm run bundle`).
 * Code branches on `code`, never on message text. Each entry says how to solve it.
 */
export const IMAGE_ERRORS = {
  FM_ERR_IMAGE_NOT_FOUND: {
    meaning: 'The input image cannot be read.',
    howToSolve: 'Check the --image path (an uncompressed .img; unxz a .img.xz first).',
  },
  FM_ERR_IMAGE_NO_MBR: {
    meaning: 'The image has no MBR partition table (no 0x55AA signature, or a GPT).',
    howToSolve: 'Use a Raspberry Pi OS .img, uncompressed.',
  },
  FM_ERR_IMAGE_NO_BOOT_PARTITION: {
    meaning: 'No FAT boot partition in the first partition entry.',
    howToSolve: 'Use an unmodified Raspberry Pi OS image (FAT32 boot + ext4 root).',
  },
  FM_ERR_IMAGE_NO_ROOT_PARTITION: {
    meaning: 'No ext4 root partition after the boot partition.',
    howToSolve: 'Use an unmodified Raspberry Pi OS image.',
  },
  FM_ERR_IMAGE_PARTITION_OUT_OF_RANGE: {
    meaning: 'A partition runs past the end of the file: the image is truncated.',
    howToSolve: 'Download it again and check its SHA-256.',
  },
  FM_ERR_IMAGE_NOT_RASPBERRY_PI: {
    meaning: 'The boot partition lacks Raspberry Pi boot files (config.txt, cmdline.txt, firmware or device trees).',
    howToSolve: 'Use a Raspberry Pi OS image.',
  },
  FM_ERR_IMAGE_TOOL_MISSING: {
    meaning: 'A user-space FAT tool is missing.',
    howToSolve: 'Install the Debian package "mtools" (apt-get install mtools).',
  },
  FM_ERR_IMAGE_FAT_IO: {
    meaning: 'Reading or writing the FAT boot partition failed.',
    howToSolve: 'The message has the mtools output; the partition may be full or damaged.',
  },
  FM_ERR_IMAGE_OUTPUT_EXISTS: {
    meaning: 'The --out file exists and was not made by fieldmesh image.',
    howToSolve: 'Choose another path or delete the file.',
  },
  FM_ERR_IMAGE_BAD_OPTION: {
    meaning: 'An option value is invalid.',
    howToSolve: 'The message names the option and what is accepted.',
  },
  FM_ERR_IMAGE_SITE_FILE: {
    meaning: 'The site file is unreadable or malformed.',
    howToSolve: 'It is JSON with "site" and a base64 32-byte "clusterKey"; delete it to create a fresh one.',
  },
  FM_ERR_FLASH_TARGET_MOUNTED: {
    meaning: 'The target device (or one of its partitions) is mounted.',
    howToSolve: 'Unmount every partition of it (umount /dev/sdX1 …) and retry.',
  },
  FM_ERR_FLASH_SYSTEM_DISK: {
    meaning: 'The target holds the running system (root, /boot or swap).',
    howToSolve: 'Pick the SD card reader device instead: check lsblk.',
  },
  FM_ERR_FLASH_TARGET_INVALID: {
    meaning: 'The target is neither a block device nor a regular file path.',
    howToSolve: 'Check --device.',
  },
  FM_ERR_FLASH_TARGET_TOO_SMALL: {
    meaning: 'The target device is smaller than the image.',
    howToSolve: 'Use a larger SD card.',
  },
  FM_ERR_FLASH_SAME_FILE: {
    meaning: 'The image and the target are the same file.',
    howToSolve: 'Pass a different --device.',
  },
  FM_ERR_FLASH_VERIFY_FAILED: {
    meaning: 'Reading back the target gave a different SHA-256 than the image: the card is faulty or was removed.',
    howToSolve: 'Retry, then replace the card.',
  },
} as const;

export type ImageErrorCode = keyof typeof IMAGE_ERRORS;

export class ImageError extends codedErrorClass('ImageError', IMAGE_ERRORS) {
  readonly howToSolve: string = this.how;
}

export function isImageError(err: unknown, code?: ImageErrorCode): err is ImageError {
  return err instanceof ImageError && (code === undefined || err.code === code);
}
