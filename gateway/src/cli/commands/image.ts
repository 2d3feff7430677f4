import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { customiseImageFile, readImageIdentity, writeSecretsFile } from '@fieldmesh/hardware/image/customise';
import { isClusterKey, loadOrCreateSite, type SiteKey } from '@fieldmesh/hardware/image/identity';
import { readReleasePublicKey } from '@fieldmesh/hardware/image/release-key';
import { parseFlags, UsageError, type Command } from '../command.js';

const FLAGS = {
  image: 'string',
  out: 'string',
  bundle: 'string',
  node: 'string',
  hostname: 'string',
  id: 'string',
  user: 'string',
  'password-hash': 'string',
  'ssh-key': 'string',
  'ssh-key-file': 'string',
  'wifi-ssid': 'string',
  'wifi-password': 'string',
  'wifi-country': 'string',
  'uplink-url': 'string',
  seeds: 'string',
  site: 'string',
  'site-file': 'string',
  'site-key': 'string',
  devices: 'string',
  'boot-mount': 'string',
  secrets: 'string',
  'release-key': 'string',
  'fleet-url': 'string',
  'new-identity': 'boolean',
} as const;

const help = `usage: fieldmesh image --image RPI-OS.img --out GATEWAY.img --bundle fieldmesh-bundle.tgz --ssh-key-file ~/.ssh/id_ed25519.pub [options]

Writes a customised copy of a Raspberry Pi OS image (MBR, FAT32 boot, ext4 root) that provisions
itself on first boot: host name, login user, SSH key, Wi-Fi, serial port, Node.js runtime, the
fieldmesh bundle and its systemd unit, the gateway config and a fresh identity (gateway id,
cluster key, uplink and device credentials). Needs no root and no mount (uses mtools).
Running the same command again on the same --out changes nothing; the identity is kept.

options:
  --image FILE          Raspberry Pi OS image, uncompressed (.img); never modified
  --out FILE            the customised copy to write (or update, if this tool made it)
  --bundle FILE         the fieldmesh bundle from \`npm run bundle\`
  --node FILE           Node.js >= 20 linux-arm64 tarball (.tar.xz) to install; default: use
                        the image's node if >= 20
  --hostname NAME       host name; default fm-<6 random hex>
  --id NAME             gateway id; default the host name
  --user NAME           login user (renames the image's first user); default admin
  --password-hash HASH  crypt(3) hash for console login (openssl passwd -6); default locked
  --ssh-key "KEY"       an OpenSSH public key line; or --ssh-key-file FILE (one key per line)
  --wifi-ssid SSID --wifi-password PASS --wifi-country CC
  --uplink-url URL      cloud broker, mqtt(s)://host:port; default none (store and forward)
  --seeds H:P,H:P       static mesh seeds
  --site NAME           site name for a new site file
  --site-file FILE      shared site key file (created with a fresh cluster key if missing):
                        every gateway of one site made with the same file shares the mesh key
  --site-key BASE64     the site's cluster key directly (32 bytes, base64)
  --devices A,B         device credential user names; default device-1
  --release-key K,K     release public keys the gateway accepts fleet releases and config
                        revisions from (fleet.releaseKeys): each the base64 publicKey, or the
                        file \`fieldmesh fleet keygen --out FILE\` wrote (only its public key
                        goes on the card)
  --fleet-url URL       the cloud's HTTP API, https://host:port, that release bundles are
                        downloaded from (fleet.cloudUrl); needs --release-key
  --boot-mount PATH     boot partition mount point on the Pi; default /boot/firmware
  --secrets FILE        where to write new secrets (mode 0600); default OUT.secrets.json
  --new-identity        make a new identity even if --out already has one
`;

function list(v: string | boolean | undefined): string[] {
  return typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

async function readOrUsage(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

export const command: Command = {
  name: 'image',
  summary: 'write a customised Raspberry Pi OS image for a gateway',
  help,
  async run(argv) {
    const { flags, rest } = parseFlags(argv, FLAGS);
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    const str = (k: keyof typeof FLAGS) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
    const source = str('image');
    const out = str('out');
    const bundlePath = str('bundle');
    if (!source) throw new UsageError('--image is required');
    if (!out) throw new UsageError('--out is required');
    if (!bundlePath) throw new UsageError('--bundle is required (make one with `npm run bundle`)');

    const sshKeys: string[] = [];
    if (str('ssh-key')) sshKeys.push(str('ssh-key')!);
    if (str('ssh-key-file')) {
      const text = (await readOrUsage(str('ssh-key-file')!, 'SSH key file')).toString('utf8');
      sshKeys.push(...text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
    }
    const ssid = str('wifi-ssid');
    if (ssid !== undefined && (str('wifi-password') === undefined || str('wifi-country') === undefined)) {
      throw new UsageError('--wifi-ssid needs --wifi-password and --wifi-country');
    }

    let siteKey: SiteKey | undefined;
    if (str('site-file') && str('site-key')) throw new UsageError('give --site-file or --site-key, not both');
    if (str('site-file')) siteKey = await loadOrCreateSite(str('site-file')!, str('site'));
    else if (str('site-key')) {
      if (!isClusterKey(str('site-key')!)) throw new UsageError('--site-key must be 32 bytes in base64 (44 characters)');
      siteKey = { site: str('site') ?? 'site', clusterKey: str('site-key')! };
    }

    // Without --hostname, a re-run keeps the name the image was made with (idempotence).
    const previous = str('hostname') === undefined ? await readImageIdentity(out) : undefined;
    const hostname = str('hostname') ?? previous?.hostname ?? `fm-${randomBytes(3).toString('hex')}`;
    const releaseKeys: string[] = [];
    for (const k of list(flags['release-key'])) releaseKeys.push(await readReleasePublicKey(k));
    const result = await customiseImageFile({
      source,
      out,
      bundle: await readOrUsage(bundlePath, 'bundle'),
      nodeRuntime: str('node') ? await readOrUsage(str('node')!, 'Node.js runtime') : undefined,
      gatewayId: str('id') ?? previous?.gatewayId,
      onStep: (what) => process.stderr.write(`image: ${what}\n`),
      siteKey,
      devices: flags.devices === undefined ? ['device-1'] : list(flags.devices),
      newIdentity: flags['new-identity'] === true,
      provisioning: {
        hostname,
        user: str('user') ?? 'admin',
        passwordHash: str('password-hash'),
        sshKeys,
        wifi: ssid !== undefined ? { ssid, passphrase: str('wifi-password')!, country: str('wifi-country')! } : undefined,
        uplinkUrl: str('uplink-url'),
        meshSeeds: list(flags.seeds),
        bootMount: str('boot-mount') ?? '/boot/firmware',
        releaseKeys: releaseKeys.length > 0 ? [...new Set(releaseKeys)] : undefined,
        fleetUrl: str('fleet-url'),
      },
    });
    const secrets = str('secrets') ?? `${out}.secrets.json`;
    if (result.deviceSecrets) await writeSecretsFile(secrets, result);
    const o = process.stdout;
    o.write(`image: ${result.out}\n`);
    o.write(`gateway id: ${result.identity.gatewayId}${result.identity.site ? ` (site ${result.identity.site})` : ''}\n`);
    o.write(`identity: ${result.reusedIdentity ? 'kept from the existing image' : 'new'}\n`);
    o.write(`files written: ${result.written.length === 0 ? 'none (already up to date)' : result.written.join(' ')}\n`);
    if (result.deviceSecrets) o.write(`secrets (uplink and device passwords, mode 0600): ${secrets}\n`);
    return 0;
  },
};
export default command;
