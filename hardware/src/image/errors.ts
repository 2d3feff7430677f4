import { codedErrorClass, detailThenHow } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of the image tooling (`fieldmesh image`, `fieldmesh flash`, `npm run bundle`).
 * Code branches on `code`, never on message text. Each entry says how to solve it.
 */
export const IMAGE_ERRORS = {
  FM_ERR_IMAGE_NOT_FOUND: 'The input image cannot be read. Check the --image path (an uncompressed .img; unxz a .img.xz first).',
  FM_ERR_IMAGE_NO_MBR:
    'The image has no MBR partition table (no 0x55AA signature, or a GPT). Use a Raspberry Pi OS .img, uncompressed.',
  FM_ERR_IMAGE_NO_BOOT_PARTITION:
    'No FAT boot partition in the first partition entry. Use an unmodified Raspberry Pi OS image (FAT32 boot + ext4 root).',
  FM_ERR_IMAGE_NO_ROOT_PARTITION: 'No ext4 root partition after the boot partition. Use an unmodified Raspberry Pi OS image.',
  FM_ERR_IMAGE_PARTITION_OUT_OF_RANGE:
    'A partition runs past the end of the file: the image is truncated. Download it again and check its SHA-256.',
  FM_ERR_IMAGE_NOT_RASPBERRY_PI:
    'The boot partition lacks Raspberry Pi boot files (config.txt, cmdline.txt, firmware or device trees). Use a Raspberry Pi OS image.',
  FM_ERR_IMAGE_TOOL_MISSING: 'A user-space FAT tool is missing. Install the Debian package "mtools" (apt-get install mtools).',
  FM_ERR_IMAGE_FAT_IO: 'Reading or writing the FAT boot partition failed. The message has the mtools output; the partition may be full or damaged.',
  FM_ERR_IMAGE_OUTPUT_EXISTS:
    'The --out file exists and was not made by fieldmesh image. Choose another path or delete the file.',
  FM_ERR_IMAGE_BAD_OPTION: 'An option value is invalid. The message names the option and what is accepted.',
  FM_ERR_IMAGE_SITE_FILE: 'The site file is unreadable or malformed. It is JSON with "site" and a base64 32-byte "clusterKey"; delete it to create a fresh one.',
  FM_ERR_FLASH_TARGET_MOUNTED:
    'The target device (or one of its partitions) is mounted. Unmount every partition of it (umount /dev/sdX1 …) and retry.',
  FM_ERR_FLASH_SYSTEM_DISK:
    'The target holds the running system (root, /boot or swap). Pick the SD card reader device instead: check lsblk.',
  FM_ERR_FLASH_TARGET_INVALID: 'The target is neither a block device nor a regular file path. Check --device.',
  FM_ERR_FLASH_TARGET_TOO_SMALL: 'The target device is smaller than the image. Use a larger SD card.',
  FM_ERR_FLASH_SAME_FILE: 'The image and the target are the same file. Pass a different --device.',
  FM_ERR_FLASH_VERIFY_FAILED:
    'Reading back the target gave a different SHA-256 than the image: the card is faulty or was removed. Retry, then replace the card.',
} as const;

export type ImageErrorCode = keyof typeof IMAGE_ERRORS;

export class ImageError extends codedErrorClass('ImageError', IMAGE_ERRORS, detailThenHow) {
  readonly howToSolve: string = this.how;
}

export function isImageError(err: unknown, code?: ImageErrorCode): err is ImageError {
  return err instanceof ImageError && (code === undefined || err.code === code);
}
