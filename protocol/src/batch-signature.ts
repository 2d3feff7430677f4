import { sign, verify, type KeyObject } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { FLAG_SIGNED, SIGNATURE_BYTES, type BatchSign } from './batch-codec.js';
import { ProtocolError } from './errors.js';
import { ed25519PrivateKey, ed25519PublicKey, generateEd25519, rawKey32, rawPublicKeyB64 } from './ed25519-keys.js';

/**
 * Origin signatures on uplink batches (FORMAT.md §3.1): the origin gateway signs every batch it
 * makes with its Ed25519 key (RFC 8032), and the cloud verifies it with the public key registered
 * for that gateway, whichever path the batch took. A relay or a buddy forwards the bytes as they
 * are, so it can carry an origin's batch but never make one.
 *
 * Keys travel as base64 of the raw 32 bytes (the private key's seed, the public key's point).
 */

/** Signed bytes are this context string, then the frame up to the signature (domain separation). */
const CONTEXT = Buffer.from('fieldmesh batch signature v1\0', 'ascii');

export interface OriginKeyPair {
  /** base64 of the 32-byte seed: the gateway's `uplink.signingKey`; secret. */
  signingKey: string;
  /** base64 of the 32-byte public key: registered at the cloud. */
  publicKey: string;
}

function raw32(b64: string, what: string): Buffer {
  const bytes = rawKey32(b64);
  if (!bytes) throw new ProtocolError('FM_ERR_BATCH_KEY', `${what} is not base64 of 32 bytes`);
  return bytes;
}

export function generateOriginKey(): OriginKeyPair {
  const { seed, publicKey } = generateEd25519();
  return { signingKey: seed, publicKey };
}

export function originPublicKey(b64: string): KeyObject {
  return ed25519PublicKey(raw32(b64, 'public key'));
}

/** The signer an origin passes to encodeBatch, and its public key (base64) to register. */
export function batchSigner(signingKey: string): { sign: BatchSign; publicKey: string } {
  const key = ed25519PrivateKey(raw32(signingKey, 'signing key'));
  return { sign: (framed) => sign(null, Buffer.concat([CONTEXT, framed]), key), publicKey: rawPublicKeyB64(key) };
}

export type SignatureCheck = 'valid' | 'unsigned' | 'invalid';

/**
 * Whether `payload` (a whole batch, CRC trailer included) carries a signature that verifies with
 * `key`. Never throws on hostile input: a batch too short or with a bad CRC is `invalid`.
 */
export function checkBatchSignature(payload: Buffer, key: KeyObject): SignatureCheck {
  if (payload.length < 5 + SIGNATURE_BYTES + 4) return payload.length >= 5 && !(payload[4]! & FLAG_SIGNED) ? 'unsigned' : 'invalid';
  if ((crc32(payload.subarray(0, payload.length - 4)) >>> 0) !== payload.readUInt32BE(payload.length - 4)) return 'invalid';
  if (!(payload[4]! & FLAG_SIGNED)) return 'unsigned';
  const end = payload.length - 4 - SIGNATURE_BYTES;
  const framed = payload.subarray(0, end);
  const signature = payload.subarray(end, end + SIGNATURE_BYTES);
  try {
    return verify(null, Buffer.concat([CONTEXT, framed]), key, signature) ? 'valid' : 'invalid';
  } catch {
    return 'invalid';
  }
}
