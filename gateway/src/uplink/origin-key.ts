import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseStoredJson, writeFileDurably } from '@fieldmesh/device-sdk/durable-file';
import { batchSigner, generateOriginKey, type BatchSign } from '@fieldmesh/protocol';
import { UplinkError } from './errors.js';

/** The file of the key made at the first start when `uplink.signingKey` is not configured. */
export function originKeyFile(dataDir: string): string {
  return join(dataDir, 'origin-key.json');
}

export interface OriginKey {
  sign: BatchSign;
  /** base64 of the public key: what `fieldmesh cloud add-gateway ID --public-key` registers. */
  publicKey: string;
  /** Where the key came from. */
  source: 'config' | 'file' | 'new';
}

/**
 * This gateway's origin signing key (protocol/src/batch-signature.ts): `uplink.signingKey` when
 * configured (as printed by `fieldmesh cloud add-gateway`), else the one in
 * `<dataDir>/origin-key.json` (mode 0600, written durably), made at the first start. Its public
 * key is printed at every start so it can be registered at the cloud.
 *
 * Only a missing file makes a new key. A file that is there but cannot be read as a key (empty,
 * cut off, garbage) stops the start: a new key would be a new identity, and the cloud refuses
 * every batch signed with a key it did not register, so the readings would sit unsendable.
 */
export function loadOriginKey(dataDir: string, configured: string | null): OriginKey {
  if (configured !== null) {
    try {
      return { ...batchSigner(configured), source: 'config' };
    } catch (err) {
      throw new UplinkError('FM_ERR_UPLINK_CONFIG', `uplink.signingKey: ${(err as Error).message}; paste the signing key printed by \`fieldmesh cloud add-gateway\``);
    }
  }
  const file = originKeyFile(dataDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw damaged(file, `cannot be read: ${(err as Error).message}`);
    const pair = generateOriginKey();
    writeFileDurably(file, JSON.stringify({ v: 1, signingKey: pair.signingKey, publicKey: pair.publicKey }) + '\n');
    return { ...batchSigner(pair.signingKey), source: 'new' };
  }
  let key: Omit<OriginKey, 'source'>;
  try {
    const stored = (parseStoredJson(text) ?? {}) as { signingKey?: unknown; publicKey?: unknown };
    if (typeof stored.signingKey !== 'string') throw new Error('has no "signingKey"');
    key = batchSigner(stored.signingKey);
    // A flipped bit in the signing key still makes a key, just not the registered one.
    if (stored.publicKey !== undefined && stored.publicKey !== key.publicKey) throw new Error('its signingKey does not belong to its publicKey');
  } catch (err) {
    throw damaged(file, (err as Error).message);
  }
  return { ...key, source: 'file' };
}

function damaged(file: string, why: string): UplinkError {
  return new UplinkError('FM_ERR_UPLINK_ORIGIN_KEY', `${file}: ${why}; no new key is made in its place: the cloud knows this gateway by the old one`);
}
