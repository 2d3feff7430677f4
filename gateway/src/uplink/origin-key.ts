import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
 * `<dataDir>/origin-key.json` (mode 0600), made at the first start. Its public key is printed
 * at every start so it can be registered at the cloud.
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
  if (existsSync(file)) {
    let signingKey: unknown;
    try {
      signingKey = (JSON.parse(readFileSync(file, 'utf8')) as { signingKey?: unknown }).signingKey;
      return { ...batchSigner(String(signingKey)), source: 'file' };
    } catch (err) {
      throw new UplinkError('FM_ERR_UPLINK_CONFIG', `${file}: ${(err as Error).message}; restore it from backup, or remove it (a new key is made) and register the new public key at the cloud`);
    }
  }
  const pair = generateOriginKey();
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify({ v: 1, signingKey: pair.signingKey, publicKey: pair.publicKey }) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return { ...batchSigner(pair.signingKey), source: 'new' };
}
