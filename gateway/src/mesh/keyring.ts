import { MeshError } from './errors.js';

/**
 * The cluster's AES-256 keys: one primary that seals every outgoing packet, and any number of
 * others still accepted on receipt, so a key rotates live without a flag day
 * (memberlist's keyring.go): install the new key everywhere, use it everywhere, remove the old.
 */
export class KeyRing {
  private keys: Buffer[] = [];

  /** `keys[0]` becomes the primary. */
  constructor(keys: Array<Buffer | string>) {
    for (const k of keys) this.install(k);
    if (this.keys.length === 0) throw new MeshError('FM_ERR_MESH_KEY', 'the key ring needs at least one key');
  }

  static decode(key: Buffer | string): Buffer {
    const buf = typeof key === 'string' ? Buffer.from(key, 'base64') : Buffer.from(key);
    if (buf.length !== 32) {
      throw new MeshError('FM_ERR_MESH_KEY', `cluster key is ${buf.length} bytes after base64 decoding, not 32`);
    }
    return buf;
  }

  /** Accept packets sealed with `key` from now on; the first key installed is the primary. */
  install(key: Buffer | string): void {
    const buf = KeyRing.decode(key);
    if (!this.keys.some((k) => k.equals(buf))) this.keys.push(buf);
  }

  /** Seal outgoing packets with `key`, which must be installed. */
  use(key: Buffer | string): void {
    const buf = KeyRing.decode(key);
    const i = this.keys.findIndex((k) => k.equals(buf));
    if (i === -1) throw new MeshError('FM_ERR_MESH_KEYRING', 'cannot use a key that is not installed');
    this.keys.splice(i, 1);
    this.keys.unshift(buf);
  }

  remove(key: Buffer | string): void {
    const buf = KeyRing.decode(key);
    const i = this.keys.findIndex((k) => k.equals(buf));
    if (i === 0) throw new MeshError('FM_ERR_MESH_KEYRING', 'cannot remove the primary key; use another key first');
    if (i > 0) this.keys.splice(i, 1);
  }

  get primary(): Buffer {
    return this.keys[0]!;
  }

  /** Primary first: it is the one nearly every packet uses. */
  all(): readonly Buffer[] {
    return this.keys;
  }
}
