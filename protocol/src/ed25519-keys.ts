import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

/**
 * Ed25519 keys as the wire and the config files carry them: base64 of the raw 32 bytes (the
 * private key's seed, the public key's point), turned into node:crypto KeyObjects here. Origin
 * keys (batch signatures) and release keys (fleet artifacts) share this encoding.
 */

// DER prefixes that turn the 32 raw bytes into PKCS#8 / SPKI (RFC 8410 §7 and §4).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The 32 raw bytes of a base64 key, or null when it is not base64 of exactly 32 bytes. */
export function rawKey32(b64: unknown): Buffer | null {
  if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(b64)) return null;
  const bytes = Buffer.from(b64, 'base64');
  return bytes.length === 32 ? bytes : null;
}

export function ed25519PublicKey(raw: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function ed25519PrivateKey(seed: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** base64 of the raw public point of a private or public KeyObject. */
export function rawPublicKeyB64(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length).toString('base64');
}

export function generateEd25519(): { seed: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    seed: privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length).toString('base64'),
    publicKey: rawPublicKeyB64(publicKey),
  };
}
