import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeFileDurably } from '@fieldmesh/device-sdk/durable-file';
import { ed25519PrivateKey, rawPublicKeyB64, releaseKeyId, type ReleaseKeyFile } from '@fieldmesh/protocol';
import { CliError } from '../errors.js';

/** A key file is ~250 bytes; anything much larger is not one (and is not read into memory). */
const MAX_KEY_FILE_BYTES = 4096;

/**
 * Writes a new release key file, readable by its owner only, durably and create-only: an existing
 * file is never replaced, because the gateways trust only the public keys they were given; a lost
 * key means re-imaging or a config change on every gateway.
 */
export function writeReleaseKeyFile(path: string, key: ReleaseKeyFile): void {
  try {
    writeFileDurably(path, JSON.stringify(key, null, 2) + '\n', { exclusive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError('FM_ERR_CLI_FLEET_KEY_EXISTS', `--out ${path} already exists; keygen never overwrites a key file`);
    throw new CliError('FM_ERR_CLI_FLEET_KEY_FILE', `--out ${path} cannot be created: ${(err as Error).message}`);
  }
}

/** The 32 raw bytes a base64 key field must hold, or a key-file error naming the field. */
function raw32(v: unknown, field: string, path: string): Buffer {
  const bytes = typeof v === 'string' && /^[A-Za-z0-9+/]{43}=$/.test(v) ? Buffer.from(v, 'base64') : Buffer.alloc(0);
  if (bytes.length !== 32) throw new CliError('FM_ERR_CLI_FLEET_KEY_FILE', `--key ${path}: "${field}" is not base64 of 32 bytes`);
  return bytes;
}

/**
 * Reads and checks a release key file: its kind, both keys, that the signing key really belongs
 * to the public key (a hand-edited file would otherwise sign artifacts no gateway accepts), and
 * that keyId is the public key's. `warn` hears about a file others can read.
 */
export function readReleaseKeyFile(path: string, warn: (line: string) => void = () => {}): ReleaseKeyFile {
  let text: string;
  try {
    const fd = openSync(path, 'r');
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new CliError('FM_ERR_CLI_FLEET_KEY_FILE', `--key ${path} is not a file`);
      if (st.size > MAX_KEY_FILE_BYTES) throw new CliError('FM_ERR_CLI_FLEET_KEY_FILE', `--key ${path} is ${st.size} bytes, not a release key file (those are under ${MAX_KEY_FILE_BYTES})`);
      if ((st.mode & 0o077) !== 0) warn(`warning: ${path} can be read by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
      const buf = Buffer.alloc(st.size);
      let off = 0;
      while (off < buf.length) {
        const n = readSync(fd, buf, off, buf.length - off, off);
        if (n === 0) break;
        off += n;
      }
      text = buf.subarray(0, off).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError('FM_ERR_CLI_FLEET_KEY_FILE', `--key ${path} cannot be read: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError('FM_ERR_CLI_FLEET_KEY_FILE', `--key ${path} is not JSON`);
  }
  const k = parsed as Partial<ReleaseKeyFile> | null;
  if (!k || typeof k !== 'object' || k.kind !== 'fieldmesh-release-key' || k.format !== 1) {
    throw new CliError('FM_ERR_CLI_FLEET_KEY_FILE', `--key ${path} is not a fieldmesh release key file (no "kind": "fieldmesh-release-key", "format": 1)`);
  }
  const seed = raw32(k.signingKey, 'signingKey', path);
  raw32(k.publicKey, 'publicKey', path);
  if (rawPublicKeyB64(ed25519PrivateKey(seed)) !== k.publicKey) throw new CliError('FM_ERR_CLI_FLEET_KEY_FILE', `--key ${path}: signingKey does not belong to publicKey (the file was edited or mixed from two keys)`);
  if (k.keyId !== releaseKeyId(k.publicKey)) throw new CliError('FM_ERR_CLI_FLEET_KEY_FILE', `--key ${path}: keyId ${String(k.keyId)} is not the id of its publicKey (${releaseKeyId(k.publicKey)})`);
  return { format: 1, kind: 'fieldmesh-release-key', signingKey: k.signingKey!, publicKey: k.publicKey!, keyId: k.keyId };
}
