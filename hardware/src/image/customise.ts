import { constants } from 'node:fs';
import { copyFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { silentLogger, type Logger } from '@fieldmesh/device-sdk';
import { writeFileDurably } from '@fieldmesh/device-sdk/durable-file';
import { editCmdline, editConfigTxt, notPiBootReason } from './boot-files.js';
import { MtoolsBootPartition, type BootPartition } from './boot-partition.js';
import { ImageError } from './errors.js';
import { generateIdentity, parseIdentity, type DeviceSecret, type GatewayIdentity, type SiteKey } from './identity.js';
import { inspectImage } from './layout.js';
import { PROVISION_DIR, renderProvisioningFiles, validateProvisioning, type ProvisioningInput } from './provisioning.js';

export interface CustomiseRequest {
  provisioning: ProvisioningInput;
  /** Gateway id; default: the host name. */
  gatewayId?: string;
  siteKey?: SiteKey;
  /** Usernames for device credentials. */
  devices: string[];
  /** The bundle tarball from `npm run bundle`. */
  bundle: Buffer;
  /** Optional Node.js runtime tarball (node-v20.x-linux-arm64.tar.xz). */
  nodeRuntime?: Buffer;
  /** Make a new identity even if the boot partition already has one. */
  newIdentity?: boolean;
  now?: Date;
  random?: (n: number) => Buffer;
  logger?: Logger;
}

export interface CustomiseResult {
  identity: GatewayIdentity;
  /** Set only when a new identity was made this run: hand these to the device owners. */
  deviceSecrets: DeviceSecret[] | undefined;
  reusedIdentity: boolean;
  written: string[];
  unchanged: string[];
}

/**
 * Customises a mounted-nowhere boot partition: checks it is a Pi's, keeps or makes the identity,
 * writes each file only if its bytes differ (so a second run writes nothing).
 */
export async function customiseBootPartition(boot: BootPartition, req: CustomiseRequest): Promise<CustomiseResult> {
  const log = (req.logger ?? silentLogger).child({ component: 'image' });
  validateProvisioning(req.provisioning);
  // Cheap sanity checks on what first boot will unpack (gzip and xz magic numbers).
  if (req.bundle.length < 2 || req.bundle[0] !== 0x1f || req.bundle[1] !== 0x8b) {
    throw new ImageError('FM_ERR_IMAGE_BAD_OPTION', '--bundle is not a gzip tarball: pass the file `npm run bundle` wrote');
  }
  if (req.nodeRuntime && !req.nodeRuntime.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
    throw new ImageError('FM_ERR_IMAGE_BAD_OPTION', '--node is not an .xz file: pass node-v20.x-linux-arm64.tar.xz');
  }
  const reason = notPiBootReason(await boot.list('/'));
  if (reason) throw new ImageError('FM_ERR_IMAGE_NOT_RASPBERRY_PI', `the boot partition has ${reason}`);

  const existingText = await boot.read(`${PROVISION_DIR}/identity.json`);
  const existing = existingText && !req.newIdentity ? parseIdentity(existingText.toString('utf8')) : undefined;
  const wantedId = req.gatewayId ?? req.provisioning.hostname;
  let identity: GatewayIdentity;
  let deviceSecrets: DeviceSecret[] | undefined;
  const sameAsked =
    existing &&
    existing.gatewayId === wantedId &&
    (req.siteKey === undefined || (existing.site === req.siteKey.site && existing.clusterKey === req.siteKey.clusterKey)) &&
    existing.devices.map((d) => d.device).join(',') === req.devices.join(',');
  if (existing && sameAsked && existing.hostname !== undefined && existing.hostname !== req.provisioning.hostname) {
    // Same identity, new host name: keep the secrets, record the name.
    identity = { ...existing, hostname: req.provisioning.hostname };
    log.info({ gatewayId: identity.gatewayId }, 'host name changed: keeping the identity');
  } else if (existing && sameAsked) {
    identity = existing;
    log.info({ gatewayId: identity.gatewayId }, 'image already has this gateway identity: keeping it');
  } else {
    if (existing) log.warn({ old: existing.gatewayId, new: wantedId }, 'identity options changed: making a new identity');
    const made = generateIdentity({ gatewayId: wantedId, hostname: req.provisioning.hostname, siteKey: req.siteKey, devices: req.devices, now: req.now ?? new Date(), random: req.random });
    identity = made.identity;
    deviceSecrets = made.deviceSecrets;
  }

  const files = renderProvisioningFiles(req.provisioning, identity, { hasNodeRuntime: req.nodeRuntime !== undefined });
  files.set(`${PROVISION_DIR}/fieldmesh-bundle.tgz`, req.bundle);
  if (req.nodeRuntime) files.set(`${PROVISION_DIR}/node.tar.xz`, req.nodeRuntime);
  const cmdline = (await boot.read('/cmdline.txt'))!.toString('utf8');
  files.set('/cmdline.txt', Buffer.from(editCmdline(cmdline, `${req.provisioning.bootMount}/firstrun.sh`)));
  const config = (await boot.read('/config.txt'))!.toString('utf8');
  files.set('/config.txt', Buffer.from(editConfigTxt(config)));

  const written: string[] = [];
  const unchanged: string[] = [];
  for (const [path, data] of files) {
    const current = await boot.read(path);
    if (current && current.equals(data)) {
      unchanged.push(path);
      continue;
    }
    await boot.write(path, data);
    written.push(path);
  }
  return { identity, deviceSecrets, reusedIdentity: deviceSecrets === undefined, written, unchanged };
}

export interface ImageFileRequest extends CustomiseRequest {
  source: string;
  out: string;
  /** Called before each slow step (copying gigabytes takes a while), for a progress line. */
  onStep?: (what: string) => void;
}

/** The identity of an image this tool made earlier, or undefined (no file, not ours). */
export async function readImageIdentity(path: string): Promise<GatewayIdentity | undefined> {
  if (!(await exists(path))) return undefined;
  try {
    const layout = await inspectImage(path);
    const text = await new MtoolsBootPartition(path, layout.boot.offsetBytes).read(`${PROVISION_DIR}/identity.json`);
    return text ? parseIdentity(text.toString('utf8')) : undefined;
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a customised copy of a Raspberry Pi OS image. The source is never modified. When `out`
 * exists it must be an image this tool made; it is then updated in place with its identity
 * kept, so running the same command twice leaves it byte-for-byte as the first run did.
 */
export async function customiseImageFile(req: ImageFileRequest): Promise<CustomiseResult & { out: string }> {
  validateProvisioning(req.provisioning);
  await inspectImage(req.source);
  if ((await exists(req.out)) && (await realpath(req.out)) === (await realpath(req.source))) {
    throw new ImageError('FM_ERR_IMAGE_BAD_OPTION', `--out ${req.out} is the input image: the input is never modified; choose another --out`);
  }
  if (await exists(req.out)) {
    const layout = await inspectImage(req.out);
    const boot = new MtoolsBootPartition(req.out, layout.boot.offsetBytes);
    const id = await boot.read(`${PROVISION_DIR}/identity.json`);
    if (!id || !parseIdentity(id.toString('utf8'))) {
      throw new ImageError('FM_ERR_IMAGE_OUTPUT_EXISTS', `${req.out} exists and has no fieldmesh identity`);
    }
    req.onStep?.(`updating ${req.out} in place (made by fieldmesh image)`);
    return { ...(await customiseBootPartition(boot, req)), out: req.out };
  }
  // Work on a temporary copy and rename at the end: an interrupted run leaves no half image.
  const tmp = `${req.out}.partial`;
  await rm(tmp, { force: true });
  try {
    req.onStep?.(`copying ${req.source} to ${tmp}`);
    await copyFile(req.source, tmp, constants.COPYFILE_FICLONE);
    req.onStep?.('writing the boot partition');
    const layout = await inspectImage(tmp);
    const result = await customiseBootPartition(new MtoolsBootPartition(tmp, layout.boot.offsetBytes), req);
    await rename(tmp, req.out);
    return { ...result, out: req.out };
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Secrets for the person making the image (uplink to register in the cloud, device passwords). */
export async function writeSecretsFile(path: string, result: CustomiseResult): Promise<void> {
  const body = {
    gatewayId: result.identity.gatewayId,
    site: result.identity.site,
    uplink: result.identity.uplink,
    devices: result.deviceSecrets ?? [],
  };
  writeFileDurably(path, JSON.stringify(body, null, 2) + '\n');
}
