import { readFile } from 'node:fs/promises';
import { ImageError } from '../errors.js';

/** A release public key as gateways hold it in `fleet.releaseKeys`: base64 of raw 32 bytes. */
export function isReleasePublicKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/u.test(key) && Buffer.from(key, 'base64').length === 32;
}

const MAX_KEY_FILE_BYTES = 4096;

/**
 * `--release-key B64_OR_FILE`: the key itself, or a file holding it: the JSON key file of
 * `fieldmesh fleet keygen` (only its publicKey is taken; the signing key never reaches the card)
 * or a text file with the base64 key on one line.
 */
export async function readReleasePublicKey(arg: string, read: (path: string) => Promise<Buffer> = readFile): Promise<string> {
  const given = arg.trim();
  if (isReleasePublicKey(given)) return given;
  let bytes: Buffer;
  try {
    bytes = await read(given);
  } catch (err) {
    throw new ImageError('FM_ERR_IMAGE_BAD_OPTION', `--release-key ${JSON.stringify(given.slice(0, 60))}: neither a base64 public key (44 characters) nor a readable file (${(err as Error).message})`);
  }
  if (bytes.length > MAX_KEY_FILE_BYTES) throw new ImageError('FM_ERR_IMAGE_BAD_OPTION', `--release-key ${given}: ${bytes.length} bytes, not a key file`);
  const text = bytes.toString('utf8').trim();
  let key: unknown = text;
  if (text.startsWith('{')) {
    try {
      key = (JSON.parse(text) as { publicKey?: unknown }).publicKey;
    } catch {
      key = undefined;
    }
  }
  if (typeof key !== 'string' || !isReleasePublicKey(key)) {
    throw new ImageError('FM_ERR_IMAGE_BAD_OPTION', `--release-key ${given}: no release public key in it; pass the file \`fieldmesh fleet keygen --out FILE\` wrote, or its publicKey`);
  }
  return key;
}
