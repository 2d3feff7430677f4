import { isReleaseVersion, signArtifact, type RollbackBody } from '@fieldmesh/protocol';
import { parseFlags, UsageError } from '../command.js';
import { CliError } from '../errors.js';
import { bytes } from '../human-format.js';
import { FleetCloudClient } from './fleet-cloud-client.js';
import { highestRollbackOrder } from './fleet-numbering.js';
import { readReleaseKeyFile } from './release-key-file.js';
import { readBundle, releaseBody } from './release-bundle.js';
import { intFlag, targetFromFlags } from './fleet-target.js';
import { noteFlag, setDesired, type FleetIo } from './desired-change.js';
import { FLEET_FLAGS } from './fleet-flags.js';

export function releaseVersionArg(rest: string[], what: string): string {
  if (rest.length === 0) throw new UsageError(`${what} needs the version, e.g. ${what} 1.2.0`);
  if (rest.length > 1) throw new UsageError(`unexpected argument ${rest[1]}`);
  const v = rest[0]!;
  if (!isReleaseVersion(v)) throw new UsageError(`version ${JSON.stringify(v)} is not MAJOR.MINOR.PATCH (numbers only, e.g. 1.2.0)`);
  return v;
}

/**
 * `set-version V --bundle F --key K (--gateway|--group|--all|--upload-only)`: everything is checked locally
 * first (key file, bundle manifest, version), then the bundle is uploaded, then its signed
 * release envelope (the cloud checks sha256 and size against the upload), then desired is set.
 * A failure part way leaves nothing desired that is not fully stored at the cloud.
 */
export async function setVersion(argv: string[], io: FleetIo): Promise<number> {
  const { flags, rest } = parseFlags(argv, FLEET_FLAGS['set-version']);
  const version = releaseVersionArg(rest, 'set-version');
  if (typeof flags.bundle !== 'string') throw new UsageError('--bundle FILE is required: the fieldmesh-bundle-<version>.tgz made by npm run bundle');
  if (typeof flags.key !== 'string') throw new UsageError('--key FILE is required: the release key file written by fieldmesh fleet keygen');
  // --upload-only stores the release for a later `rollout`; otherwise it is set desired at once.
  const targeted = flags.gateway !== undefined || flags.group !== undefined || flags.all !== undefined;
  if (flags['upload-only'] && targeted) throw new UsageError('--upload-only sets nothing desired: drop --gateway/--group/--all, or drop --upload-only');
  if (!flags['upload-only'] && !targeted) throw new UsageError('say whom it is for: --gateway ID, --group TAG or --all (or --upload-only to store the release for a later rollout)');
  const target = flags['upload-only'] ? null : targetFromFlags(flags);
  const cloud = FleetCloudClient.fromFlags(flags, io.env);
  const key = readReleaseKeyFile(flags.key, (l) => io.err(l + '\n'));
  const bundle = await readBundle(flags.bundle, version);
  const path = `/api/fleet/releases/${encodeURIComponent(version)}`;
  // A version is published once: setting it desired again (another group) reuses what is stored.
  const stored = (await cloud.getIfThere(path))?.json as { body?: { sha256?: string } } | undefined;
  const uploaded = !stored;
  if (stored?.body?.sha256 === bundle.sha256) {
    if (!flags.json) io.out(`stored    release ${version} is already at the cloud (same sha256 ${bundle.sha256}); not uploaded again\n`);
  } else if (stored) {
    throw new CliError('FM_ERR_CLI_FLEET_REFUSED', `release ${version} is already published at the cloud for another bundle (sha256 ${String(stored.body?.sha256)}, this one ${bundle.sha256}); a version never changes: bump the version and bundle again`);
  } else {
    const envelope = signArtifact(releaseBody(bundle, io.clock), key);
    try {
      await cloud.putFile(`${path}/bundle`, flags.bundle, bundle.bytes, 'application/gzip');
    } catch (err) {
      // The cloud ends a request that takes longer than its http.requestTimeoutMs (30 s by default).
      if (err instanceof CliError && err.code === 'FM_ERR_CLI_FLEET_UNREACHABLE') {
        throw new CliError('FM_ERR_CLI_FLEET_UNREACHABLE', `${err.message.split(' (FM_ERR_')[0]}; if the cloud is reachable, the ${bytes(bundle.bytes)} upload may have outlasted its http.requestTimeoutMs: raise that on the cloud`);
      }
      throw err;
    }
    if (!flags.json) io.out(`uploaded  bundle ${version}: ${bytes(bundle.bytes)}, sha256 ${bundle.sha256}, commit ${bundle.commit}, ${bundle.machine}, node ABI ${bundle.nodeAbi}\n`);
    await cloud.putJson(path, envelope);
    if (!flags.json) io.out(`signed    release ${version} with key ${key.keyId}\n`);
  }
  const desired = target ? await setDesired(cloud, io, flags.json === true, target, { version }, `version ${version}`) : null;
  if (flags.json) io.out(JSON.stringify({ version, sha256: bundle.sha256, bytes: bundle.bytes, uploaded, desired }) + '\n');
  else if (!target) io.out(`stored    release ${version}; nothing set desired (fieldmesh fleet rollout --version ${version}, or set-version with a target)\n`);
  return 0;
}

/**
 * `rollback --version V [--config-revision N] --key K (…)`: gateways never go down on their own
 * (`downgrade`, `old-revision`); a signed rollback order permits exactly this version/revision.
 * Its order must exceed every order the gateways used, hence highest known + 1 (or --order).
 */
export async function rollback(argv: string[], io: FleetIo): Promise<number> {
  const { flags, rest } = parseFlags(argv, FLEET_FLAGS.rollback);
  if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
  const version = flags.version === undefined ? undefined : releaseVersionArg([String(flags.version)], 'rollback --version');
  const configRevision = intFlag(flags, 'config-revision', 1, 2 ** 31);
  if (version === undefined && configRevision === undefined) throw new UsageError('rollback needs --version V (a release to go back to) and/or --config-revision N');
  if (typeof flags.key !== 'string') throw new UsageError('--key FILE is required: the release key file written by fieldmesh fleet keygen');
  const target = targetFromFlags(flags);
  const cloud = FleetCloudClient.fromFlags(flags, io.env);
  const key = readReleaseKeyFile(flags.key, (l) => io.err(l + '\n'));
  const text = noteFlag(flags);
  let order = intFlag(flags, 'order', 1, 2 ** 31);
  if (order === undefined) order = highestRollbackOrder((await cloud.get('/api/fleet')).json, (await cloud.get('/api/fleet/history?limit=1000')).json) + 1;
  const body: RollbackBody = { kind: 'rollback', order, createdAt: new Date(io.clock.now()).toISOString(), ...(version ? { version } : {}), ...(configRevision !== undefined ? { configRevision } : {}), ...(text ? { note: text } : {}) };
  const envelope = signArtifact(body, key);
  if (!flags.json) io.out(`signed    rollback order ${order} with key ${key.keyId}\n`);
  const what = [version ? `version ${version}` : '', configRevision !== undefined ? `config rev ${configRevision}` : ''].filter(Boolean).join(', ');
  const desired = await setDesired(cloud, io, flags.json === true, target, { ...(version ? { version } : {}), ...(configRevision !== undefined ? { configRevision } : {}), rollback: envelope }, `rollback to ${what} (order ${order})`);
  if (flags.json) io.out(JSON.stringify({ order, keyId: key.keyId, desired }) + '\n');
  return 0;
}
