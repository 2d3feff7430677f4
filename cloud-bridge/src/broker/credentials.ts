import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseStoredJson, writeFileDurably } from '@fieldmesh/device-sdk/durable-file';
import { generateOriginKey, IDENTIFIER_RULE, isGatewayId, originPublicKey } from '@fieldmesh/protocol';
import { CloudError } from '../errors.js';

/**
 * Per-gateway secrets in `<dataDir>/gateways.json` (mode 0600): only a salted scrypt hash of each
 * password is kept, so a copy of the file does not let anyone log in. Passwords are 24 random
 * bytes (base64url), printed once by `fieldmesh cloud add-gateway`. Written durably; a file that
 * is there but empty, cut off or garbage is FM_ERR_CLOUD_CREDENTIALS (at start, and for
 * `add-gateway`, which never writes over it); while running, every login is refused and every
 * batch left unacknowledged until it is fixed: the gateways keep their readings and resend them.
 */
interface CredentialFile {
  v: 1;
  /** `publicKey`: base64 of the gateway's Ed25519 origin key (protocol/src/batch-signature.ts). */
  gateways: Record<string, { salt: string; hash: string; created: string; publicKey?: string }>;
}

// scrypt cost (RFC 7914 §2): N=2^14, r=8 is about 16 MiB and tens of ms per check; a gateway
// logs in rarely, a guesser pays per attempt.
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const KEY_BYTES = 32;

export class GatewayCredentials {
  private entries: CredentialFile['gateways'] = {};
  private loadedMtime = -1;

  constructor(readonly file: string) {
    this.reloadIfChanged();
  }

  /** The file may be edited by `add-gateway` while the bridge runs: re-read it when it changed. */
  private reloadIfChanged(): void {
    if (!existsSync(this.file)) {
      this.entries = {};
      this.loadedMtime = -1;
      return;
    }
    const mtime = statSync(this.file).mtimeMs;
    if (mtime === this.loadedMtime) return;
    let parsed: CredentialFile;
    try {
      parsed = parseStoredJson(readFileSync(this.file, 'utf8')) as CredentialFile;
    } catch (err) {
      throw new CloudError('FM_ERR_CLOUD_CREDENTIALS', `${this.file}: ${(err as Error).message}`);
    }
    if (parsed?.v !== 1 || typeof parsed.gateways !== 'object' || parsed.gateways === null) {
      throw new CloudError('FM_ERR_CLOUD_CREDENTIALS', `${this.file}: expected { "v": 1, "gateways": { … } }`);
    }
    this.entries = parsed.gateways;
    this.loadedMtime = mtime;
  }

  ids(): string[] {
    this.reloadIfChanged();
    return Object.keys(this.entries).sort();
  }

  /**
   * The registered origin public key of `id` (base64), if any. Throws FM_ERR_CLOUD_CREDENTIALS
   * on a damaged file: "no key registered" would let unsigned batches through.
   */
  publicKey(id: string): string | undefined {
    this.reloadIfChanged();
    return Object.hasOwn(this.entries, id) ? this.entries[id]!.publicKey : undefined;
  }

  /**
   * Issues a password for `id` and stores its hash, and registers its origin public key: the one
   * given (made by the gateway at its first start), else a new key pair whose signing key is
   * returned for the gateway's `uplink.signingKey`. Both secrets are shown once, never kept.
   */
  enrol(id: string, opts: { rotate?: boolean; publicKey?: string } = {}): { password: string; signingKey: string | null; publicKey: string } {
    let publicKey = opts.publicKey;
    let signingKey: string | null = null;
    if (publicKey === undefined) ({ signingKey, publicKey } = generateOriginKey());
    else {
      try {
        originPublicKey(publicKey);
      } catch (err) {
        throw new CloudError('FM_ERR_CLOUD_GATEWAY_KEY', `--public-key for ${id}: ${(err as Error).message}`);
      }
    }
    const password = this.add(id, { ...opts, publicKey });
    return { password, signingKey, publicKey };
  }

  /** Issues a password for `id` and stores its hash; returns the password (shown once). */
  add(id: string, opts: { rotate?: boolean; publicKey?: string } = {}): string {
    if (!isGatewayId(id)) throw new CloudError('FM_ERR_CLOUD_GATEWAY_ID', `gateway id ${JSON.stringify(id.slice(0, 80))} is not ${IDENTIFIER_RULE}`);
    // `<id>.relay` is gateway <id>'s relay session (gateway-access.ts ownsClientId): no gateway may be named so.
    if (id.endsWith('.relay')) throw new CloudError('FM_ERR_CLOUD_GATEWAY_ID', `gateway id ${JSON.stringify(id)} ends in .relay, the client id suffix of relay links`);
    this.reloadIfChanged();
    if (this.entries[id] && !opts.rotate) throw new CloudError('FM_ERR_CLOUD_GATEWAY_EXISTS', `gateway ${id}`);
    const password = randomBytes(24).toString('base64url');
    const salt = randomBytes(16);
    const hash = scryptSync(password, salt, KEY_BYTES, SCRYPT);
    this.entries = { ...this.entries, [id]: { salt: salt.toString('hex'), hash: hash.toString('hex'), created: new Date().toISOString(), ...(opts.publicKey ? { publicKey: opts.publicKey } : {}) } };
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileDurably(this.file, JSON.stringify({ v: 1, gateways: this.entries } satisfies CredentialFile, null, 1) + '\n');
    this.loadedMtime = statSync(this.file).mtimeMs;
    return password;
  }

  /** Whether `password` is the one issued to gateway `id`. Never throws on hostile input. */
  async verify(id: string, password: Buffer | string | undefined): Promise<boolean> {
    try {
      this.reloadIfChanged();
    } catch {
      return false;
    }
    const entry = Object.hasOwn(this.entries, id) ? this.entries[id] : undefined;
    if (!entry || password === undefined || password.length === 0 || password.length > 256) return false;
    const expected = Buffer.from(entry.hash, 'hex');
    const got = await new Promise<Buffer>((resolve, reject) =>
      scrypt(password, Buffer.from(entry.salt, 'hex'), KEY_BYTES, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))),
    );
    return expected.length === got.length && timingSafeEqual(expected, got);
  }
}
