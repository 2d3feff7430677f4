import { createHash, pbkdf2Sync } from 'node:crypto';
import { ImageError } from './errors.js';
import type { GatewayIdentity } from './identity.js';
import { renderFirstrun } from './firstrun.js';
import { renderLauncher } from './fleet/launcher.js';
import { isReleasePublicKey } from './fleet/release-key.js';
import { DEFAULT_SERVICE_LAYOUT, renderServiceUnit, renderSysusers, type ServiceLayout } from './service/unit.js';

/** What the person making the image chooses (everything else is generated). */
export interface ProvisioningInput {
  hostname: string;
  /** The login user; renames the image's first user (uid 1000) as Imager does. */
  user: string;
  /** A crypt(3) hash (e.g. `openssl passwd -6`); absent = password login locked, SSH keys only. */
  passwordHash?: string;
  sshKeys: string[];
  wifi?: { ssid: string; passphrase: string; country: string };
  /** Cloud broker URL for the uplink; absent = store-and-forward until configured. */
  uplinkUrl?: string;
  meshSeeds?: string[];
  /** Where the boot partition is mounted on the booted system: /boot/firmware since Bookworm. */
  bootMount: string;
  /** Release public keys (base64, 32 bytes) the gateway accepts fleet releases and configs from. */
  releaseKeys?: string[];
  /** The cloud's HTTP API the gateway downloads release bundles from (`fleet.cloudUrl`). */
  fleetUrl?: string;
}

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/u;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/u;
const SSH_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [\x20-\x7e]{0,200})?$/u;
const CRYPT_HASH = /^\$(1|5|6|y|2[aby])\$[./A-Za-z0-9$=,]{8,200}$/u;
const SEED = /^[A-Za-z0-9.:[\]-]{1,100}:\d{1,5}$/u;
const URL_RE = /^mqtts?:\/\/[A-Za-z0-9.[\]:-]{1,253}(:\d{1,5})?\/?$/u;
const HTTP_URL_RE = /^https?:\/\/[A-Za-z0-9.[\]:-]{1,253}(:\d{1,5})?\/?$/u;

function bad(option: string, value: unknown, accepted: string): never {
  throw new ImageError('FM_ERR_IMAGE_BAD_OPTION', `--${option} ${JSON.stringify(value)}: ${accepted}`);
}

/**
 * Every value here ends up in a shell script, a keyfile or YAML on a device: validated against
 * strict patterns so none can inject a line, a quote or a directive.
 */
export function validateProvisioning(p: ProvisioningInput): void {
  if (!HOSTNAME.test(p.hostname)) bad('hostname', p.hostname, 'use 1-63 of a-z 0-9 - (RFC 1123), not starting or ending with -');
  if (!USER.test(p.user) || p.user === 'root') bad('user', p.user, 'use a Linux user name: a-z 0-9 _ -, up to 32, not root');
  if (p.passwordHash !== undefined && !CRYPT_HASH.test(p.passwordHash)) bad('password-hash', p.passwordHash, 'give a crypt(3) hash from `openssl passwd -6`');
  if (p.sshKeys.length === 0 && p.passwordHash === undefined) bad('ssh-key', '', 'give an SSH public key (or --password-hash), or nobody can log in');
  for (const k of p.sshKeys) if (!SSH_KEY.test(k.trim())) bad('ssh-key', k.slice(0, 40), 'give one OpenSSH public key line (ssh-ed25519 AAAA… comment)');
  if (p.wifi) {
    const { ssid, passphrase, country } = p.wifi;
    if (!/^[\x20-\x7e]{1,32}$/u.test(ssid) || /[;\\#]/u.test(ssid) || ssid.trim() !== ssid) bad('wifi-ssid', ssid, 'use 1-32 printable ASCII characters without ; \\ # or edge spaces');
    if (!/^[\x20-\x7e]{8,63}$/u.test(passphrase)) bad('wifi-password', '***', 'use 8-63 printable ASCII characters (WPA2-PSK)');
    if (!/^[A-Z]{2}$/u.test(country)) bad('wifi-country', country, 'use an ISO 3166 two-letter code such as DE or US');
  }
  if (p.uplinkUrl !== undefined && !URL_RE.test(p.uplinkUrl)) bad('uplink-url', p.uplinkUrl, 'use mqtt://host:port or mqtts://host:port');
  for (const s of p.meshSeeds ?? []) if (!SEED.test(s)) bad('seed', s, 'use host:port');
  for (const k of p.releaseKeys ?? []) if (!isReleasePublicKey(k)) bad('release-key', k.slice(0, 60), 'give the publicKey of `fieldmesh fleet keygen` (base64 of 32 bytes)');
  if (p.fleetUrl !== undefined && !HTTP_URL_RE.test(p.fleetUrl)) bad('fleet-url', p.fleetUrl, 'use https://host:port (the cloud bridge\'s HTTP API)');
  if (p.fleetUrl !== undefined && (p.releaseKeys ?? []).length === 0) bad('fleet-url', p.fleetUrl, 'give --release-key too: a gateway takes fleet updates only with a release key');
  if (!/^\/[a-z/]{1,40}$/u.test(p.bootMount)) bad('boot-mount', p.bootMount, 'use /boot/firmware (Bookworm and later) or /boot');
}

/** WPA2-PSK from passphrase (IEEE 802.11i: PBKDF2-SHA1, SSID as salt, 4096 rounds): no clear text on the card. */
export function wpaPsk(ssid: string, passphrase: string): string {
  return pbkdf2Sync(passphrase, ssid, 4096, 32, 'sha1').toString('hex');
}

/** A stable UUID (v4 layout) from a seed, so re-running renders the same keyfile. */
function stableUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const q = (s: string) => JSON.stringify(s);

/** The gateway config (documented keys only: the gateway rejects unknown keys). JSON strings are valid YAML. */
export function renderGatewayConfig(p: ProvisioningInput, id: GatewayIdentity, layout: ServiceLayout): string {
  const lines = [
    '# fieldmesh gateway config, written by `fieldmesh image`. Secrets: keep this file 0640 root:fieldmesh.',
    `id: ${q(id.gatewayId)}`,
    `dataDir: ${q(`/var/lib/${layout.stateDirectory}`)}`,
    `broker: { port: 1883, auth: credentials, devices: [${id.devices.map((d) => q(d.device)).join(', ')}] }`,
    'http: { port: 8081 }',
    `mesh: { port: 7946, mdns: true, seeds: [${(p.meshSeeds ?? []).map(q).join(', ')}], key: ${q(id.clusterKey)} }`,
  ];
  if (p.releaseKeys && p.releaseKeys.length > 0) {
    lines.push(`fleet: { releaseKeys: [${p.releaseKeys.map(q).join(', ')}]${p.fleetUrl ? `, cloudUrl: ${q(p.fleetUrl)}` : ''} }`);
  }
  if (p.uplinkUrl) lines.push(`uplink: { url: ${q(p.uplinkUrl)}, username: ${q(id.uplink.username)}, password: ${q(id.uplink.password)} }`);
  return lines.join('\n') + '\n';
}

/**
 * Device credentials in the gateway's FileCredentialStore layout (version 1, hashes only), so the
 * gateway verifies the devices' passwords without ever having had them in clear.
 */
export function renderDeviceCredentials(id: GatewayIdentity): string {
  const devices: Record<string, { salt: string; hash: string; created: string }> = {};
  for (const d of id.devices) devices[d.device] = { salt: d.salt, hash: d.hash, created: d.created };
  return JSON.stringify({ version: 1, devices }, null, 2) + '\n';
}

export function renderWifiKeyfile(p: ProvisioningInput, id: GatewayIdentity): string | undefined {
  if (!p.wifi) return undefined;
  return [
    '[connection]',
    'id=fieldmesh-wifi',
    `uuid=${stableUuid(`${id.gatewayId}/${p.wifi.ssid}`)}`,
    'type=wifi',
    'interface-name=wlan0',
    'autoconnect=true',
    '',
    '[wifi]',
    'mode=infrastructure',
    `ssid=${p.wifi.ssid}`,
    '',
    '[wifi-security]',
    'auth-alg=open',
    'key-mgmt=wpa-psk',
    `psk=${wpaPsk(p.wifi.ssid, p.wifi.passphrase)}`,
    '',
    '[ipv4]',
    'method=auto',
    '',
    '[ipv6]',
    'addr-gen-mode=default',
    'method=auto',
    '',
  ].join('\n');
}

/** Paths on the boot partition that first boot consumes (and deletes, for the secret ones). */
export const PROVISION_DIR = '/fieldmesh';

/**
 * All new files for the boot partition, by path. Deterministic for a given input and identity,
 * so a second run finds every file already right and writes nothing.
 */
export function renderProvisioningFiles(
  p: ProvisioningInput,
  id: GatewayIdentity,
  opts: { hasNodeRuntime: boolean; layout?: ServiceLayout },
): Map<string, Buffer> {
  validateProvisioning(p);
  const layout = opts.layout ?? DEFAULT_SERVICE_LAYOUT;
  const files = new Map<string, Buffer>();
  const put = (path: string, text: string) => files.set(path, Buffer.from(text, 'utf8'));
  put(`${PROVISION_DIR}/identity.json`, JSON.stringify(id, null, 2) + '\n');
  put(`${PROVISION_DIR}/gateway.yaml`, renderGatewayConfig(p, id, layout));
  put(`${PROVISION_DIR}/device-credentials.json`, renderDeviceCredentials(id));
  put(`${PROVISION_DIR}/fieldmesh.service`, renderServiceUnit(layout));
  put(`${PROVISION_DIR}/fieldmesh.sysusers`, renderSysusers(layout));
  put(`${PROVISION_DIR}/fieldmesh-launch`, renderLauncher(layout));
  if (p.sshKeys.length > 0) put(`${PROVISION_DIR}/authorized_keys`, p.sshKeys.map((k) => k.trim()).join('\n') + '\n');
  const wifi = renderWifiKeyfile(p, id);
  if (wifi) put(`${PROVISION_DIR}/wifi.nmconnection`, wifi);
  put('/firstrun.sh', renderFirstrun(p, layout, { hasNodeRuntime: opts.hasNodeRuntime }));
  return files;
}
