import { randomBytes as cryptoRandomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { ImageError } from './errors.js';

/**
 * A gateway's identity, born when its image is made. Every secret is fresh per image except the
 * cluster key, which every gateway of one site shares on purpose (the mesh encrypts under it).
 * The identity is stored on the boot partition as /fieldmesh/identity.json so that re-running
 * `fieldmesh image` on the same output keeps it (idempotence); first boot moves the secrets to
 * /etc/fieldmesh (mode 0640, group fieldmesh) and deletes them from the boot partition.
 */
export interface GatewayIdentity {
  format: 1;
  gatewayId: string;
  site: string | undefined;
  /** base64 of 32 random bytes: the mesh's AES-256-GCM key (DESIGN.md mesh.key). */
  clusterKey: string;
  /** Credentials the gateway presents to the cloud broker (register them on the cloud side). */
  uplink: { username: string; password: string };
  /** Credentials devices present to this gateway's broker; only scrypt hashes are kept here. */
  devices: Array<{ username: string; passwordHash: string }>;
  createdAt: string;
}

/** Plain-text device passwords: given to the user once (the secrets file), never on the image. */
export interface DeviceSecret {
  username: string;
  password: string;
}

export interface SiteKey {
  site: string;
  clusterKey: string;
}

export type RandomBytes = (n: number) => Buffer;

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/u;

/** URL-safe, no padding: fits in YAML, MQTT usernames and shells without quoting trouble. */
function token(random: RandomBytes, bytes: number): string {
  return random(bytes).toString('base64url');
}

export function isClusterKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/u.test(key) && Buffer.from(key, 'base64').length === 32;
}

/*
 * Device secret hash format: "scrypt$N$r$p$<salt base64url>$<key base64url>", 32-byte key,
 * N=16384 r=8 p=1 (node's defaults: ~50 ms and 16 MiB on a Pi 4, paid once per connection).
 * Test vector: password "secret", salt bytes 00..0f → see test/hardware/image/identity.test.ts.
 */
const SCRYPT = { N: 16384, r: 8, p: 1 };

export function hashDeviceSecret(password: string, salt: Buffer): string {
  const key = scryptSync(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Checks a device password against a stored hash; false for any malformed hash. */
export function verifyDeviceSecret(password: string, stored: string): boolean {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/u.exec(stored);
  if (!m) return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounds stop a hostile hash from asking for gigabytes of memory.
  if (N > 1 << 20 || r > 32 || p > 16 || (N & (N - 1)) !== 0) return false;
  const expected = Buffer.from(m[5]!, 'base64url');
  if (expected.length < 16) return false;
  const got = scryptSync(password, Buffer.from(m[4]!, 'base64url'), expected.length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
  return timingSafeEqual(got, expected);
}

export interface IdentityRequest {
  gatewayId: string;
  /** Shared site key; a fresh one (site undefined) when absent. */
  siteKey?: SiteKey;
  /** Usernames for device credentials. */
  devices: string[];
  now: Date;
  random?: RandomBytes;
}

export function generateIdentity(req: IdentityRequest): { identity: GatewayIdentity; deviceSecrets: DeviceSecret[] } {
  const random = req.random ?? cryptoRandomBytes;
  if (!NAME.test(req.gatewayId)) {
    throw new ImageError('FM_ERR_IMAGE_BAD_OPTION', `gateway id "${req.gatewayId}": use 1-63 of a-z 0-9 -, starting with a letter or digit`);
  }
  const seen = new Set<string>();
  for (const d of req.devices) {
    if (!NAME.test(d) || seen.has(d)) {
      throw new ImageError('FM_ERR_IMAGE_BAD_OPTION', `device name "${d}": use unique names of 1-63 of a-z 0-9 -`);
    }
    seen.add(d);
  }
  const deviceSecrets = req.devices.map((username) => ({ username, password: token(random, 18) }));
  const identity: GatewayIdentity = {
    format: 1,
    gatewayId: req.gatewayId,
    site: req.siteKey?.site,
    clusterKey: req.siteKey?.clusterKey ?? random(32).toString('base64'),
    uplink: { username: req.gatewayId, password: token(random, 24) },
    devices: deviceSecrets.map((s) => ({ username: s.username, passwordHash: hashDeviceSecret(s.password, random(16)) })),
    createdAt: req.now.toISOString(),
  };
  return { identity, deviceSecrets };
}

/** Parses identity.json from an image made earlier; undefined when it is not one of ours. */
export function parseIdentity(text: string): GatewayIdentity | undefined {
  try {
    const v = JSON.parse(text) as Partial<GatewayIdentity>;
    if (
      v.format === 1 &&
      typeof v.gatewayId === 'string' &&
      NAME.test(v.gatewayId) &&
      typeof v.clusterKey === 'string' &&
      isClusterKey(v.clusterKey) &&
      typeof v.uplink?.username === 'string' &&
      typeof v.uplink.password === 'string' &&
      Array.isArray(v.devices) &&
      typeof v.createdAt === 'string'
    ) {
      return v as GatewayIdentity;
    }
  } catch {
    // fall through: not ours
  }
  return undefined;
}

/**
 * The site file: `{ "site": NAME, "clusterKey": BASE64 }`, mode 0600. Created with a fresh key
 * when missing, so the first `fieldmesh image --site-file F` of a site makes the key and every
 * later one reuses it.
 */
export async function loadOrCreateSite(path: string, siteName: string | undefined, random: RandomBytes = cryptoRandomBytes): Promise<SiteKey> {
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ImageError('FM_ERR_IMAGE_SITE_FILE', `cannot read ${path}: ${(err as Error).message}`);
    }
  }
  if (text === undefined) {
    const site = siteName ?? 'site';
    if (!NAME.test(site)) throw new ImageError('FM_ERR_IMAGE_BAD_OPTION', `--site "${site}": use 1-63 of a-z 0-9 -`);
    const key: SiteKey = { site, clusterKey: random(32).toString('base64') };
    await writeFile(path, JSON.stringify(key, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    await chmod(path, 0o600);
    return key;
  }
  let v: Partial<SiteKey>;
  try {
    v = JSON.parse(text) as Partial<SiteKey>;
  } catch (err) {
    throw new ImageError('FM_ERR_IMAGE_SITE_FILE', `${path} is not JSON: ${(err as Error).message}`);
  }
  if (typeof v.site !== 'string' || !NAME.test(v.site) || typeof v.clusterKey !== 'string' || !isClusterKey(v.clusterKey)) {
    throw new ImageError('FM_ERR_IMAGE_SITE_FILE', `${path} lacks a valid "site" name or base64 32-byte "clusterKey"`);
  }
  if (siteName !== undefined && siteName !== v.site) {
    throw new ImageError('FM_ERR_IMAGE_SITE_FILE', `${path} is for site "${v.site}", not "${siteName}"`);
  }
  return { site: v.site, clusterKey: v.clusterKey };
}
