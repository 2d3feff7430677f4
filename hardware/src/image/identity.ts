import { randomBytes as cryptoRandomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseStoredJson, writeFileDurably } from '@fieldmesh/device-sdk/durable-file';
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
  /** The host name the image was made with (re-runs without --hostname keep it). */
  hostname?: string;
  site: string | undefined;
  /** base64 of 32 random bytes: the mesh's AES-256-GCM key (the config's mesh.key). */
  clusterKey: string;
  /** Credentials the gateway presents to the cloud broker (register them on the cloud side). */
  uplink: { username: string; password: string };
  /** Credentials devices present to this gateway's broker; only scrypt hashes are kept here. */
  devices: DeviceCredential[];
  createdAt: string;
}

/** Plain-text device passwords: given to the user once (the secrets file), never on the image. */
export interface DeviceSecret {
  device: string;
  password: string;
}

export interface SiteKey {
  site: string;
  clusterKey: string;
}

export type RandomBytes = (n: number) => Buffer;

/**
 * Gateway, device and site names of an image: stricter than the gateway id and device id grammar
 * (protocol/FORMAT.md §1.1), on purpose. The gateway id defaults to the host name, and the mesh
 * announces each gateway as the mDNS host `fm-<id>.local`, so an id made here must also be one
 * DNS label: lower case (host names compare case-insensitively), no `.` (a label separator) and
 * no `_`. Every such name is a gateway id (test/hardware/image/image-names.test.ts checks it);
 * hardware may import only device-sdk (docs/ARCHITECTURE.md), hence a pattern of its own.
 */
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/u;

export function isImageName(v: string): boolean {
  return NAME.test(v);
}

/** URL-safe, no padding: fits in YAML, MQTT usernames and shells without quoting trouble. */
function token(random: RandomBytes, bytes: number): string {
  return random(bytes).toString('base64url');
}

export function isClusterKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/u.test(key) && Buffer.from(key, 'base64').length === 32;
}

/*
 * Device credential format: the gateway's FileCredentialStore (gateway/src/ingest/credentials.ts)
 * entry, so the file written here is the one the gateway reads: scrypt N=2^14 r=8 p=1 (~30 ms on
 * a Pi 4 per CONNECT), 16-byte random salt, 32-byte key, both base64.
 * Test vector: password "secret", salt bytes 00..0f → see test/hardware/image/boot-files.test.ts.
 */
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export interface DeviceCredential {
  device: string;
  salt: string;
  hash: string;
  created: string;
}

export function hashDeviceSecret(password: string, salt: Buffer): string {
  return scryptSync(password, salt, 32, SCRYPT).toString('base64');
}

/** Checks a device password against a stored entry; false for a malformed entry. */
export function verifyDeviceSecret(password: string, entry: { salt: string; hash: string }): boolean {
  const want = Buffer.from(entry.hash, 'base64');
  if (want.length !== 32) return false;
  const got = scryptSync(password, Buffer.from(entry.salt, 'base64'), 32, SCRYPT);
  return timingSafeEqual(got, want);
}

export interface IdentityRequest {
  gatewayId: string;
  hostname?: string;
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
  const created = req.now.toISOString();
  const deviceSecrets = req.devices.map((device) => ({ device, password: token(random, 24) }));
  const identity: GatewayIdentity = {
    format: 1,
    gatewayId: req.gatewayId,
    hostname: req.hostname,
    site: req.siteKey?.site,
    clusterKey: req.siteKey?.clusterKey ?? random(32).toString('base64'),
    uplink: { username: req.gatewayId, password: token(random, 24) },
    devices: deviceSecrets.map((s) => {
      const salt = random(16);
      return { device: s.device, salt: salt.toString('base64'), hash: hashDeviceSecret(s.password, salt), created };
    }),
    createdAt: created,
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
    writeFileDurably(path, JSON.stringify(key, null, 2) + '\n', { exclusive: true });
    return key;
  }
  let v: Partial<SiteKey>;
  try {
    v = (parseStoredJson(text) ?? {}) as Partial<SiteKey>;
  } catch (err) {
    throw new ImageError('FM_ERR_IMAGE_SITE_FILE', `${path} ${(err as Error).message}`);
  }
  if (typeof v.site !== 'string' || !NAME.test(v.site) || typeof v.clusterKey !== 'string' || !isClusterKey(v.clusterKey)) {
    throw new ImageError('FM_ERR_IMAGE_SITE_FILE', `${path} lacks a valid "site" name or base64 32-byte "clusterKey"`);
  }
  if (siteName !== undefined && siteName !== v.site) {
    throw new ImageError('FM_ERR_IMAGE_SITE_FILE', `${path} is for site "${v.site}", not "${siteName}"`);
  }
  return { site: v.site, clusterKey: v.clusterKey };
}
