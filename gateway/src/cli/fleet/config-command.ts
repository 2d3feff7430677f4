import { signArtifact } from '@fieldmesh/protocol';
import { parseFlags, UsageError } from '../command.js';
import { configBody, readConfigSections } from './config-revision-file.js';
import { noteFlag, setDesired, type FleetIo } from './desired-change.js';
import { FleetCloudClient } from './fleet-cloud-client.js';
import { highestConfigRevision } from './fleet-numbering.js';
import { intFlag, targetFromFlags } from './fleet-target.js';
import { readReleaseKeyFile } from './release-key-file.js';
import { FLEET_FLAGS } from './fleet-flags.js';

/**
 * `set-config --file F.yaml --key K [--revision N] (…)`: the file's top-level keys are the
 * gateway.yaml sections the revision replaces. Revision numbers only grow (a gateway refuses one
 * not above what it runs), so the default is one above the highest the cloud knows.
 */
export async function setConfig(argv: string[], io: FleetIo): Promise<number> {
  const { flags, rest } = parseFlags(argv, FLEET_FLAGS['set-config']);
  if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
  if (typeof flags.file !== 'string') throw new UsageError('--file F.yaml is required: the gateway.yaml sections this revision sets (rules:, uplink:, …)');
  if (typeof flags.key !== 'string') throw new UsageError('--key FILE is required: the release key file written by fieldmesh fleet keygen');
  const target = targetFromFlags(flags);
  const asked = intFlag(flags, 'revision', 1, 2 ** 31);
  const note = noteFlag(flags);
  const cloud = FleetCloudClient.fromFlags(flags, io.env);
  const key = readReleaseKeyFile(flags.key, (l) => io.err(l + '\n'));
  const sections = readConfigSections(flags.file);
  const revision = asked ?? highestConfigRevision((await cloud.get('/api/fleet')).json) + 1;
  const envelope = signArtifact(configBody(revision, sections, io.clock, note), key);
  await cloud.putJson(`/api/fleet/configs/${revision}`, envelope);
  if (!flags.json) io.out(`signed    config revision ${revision} (${Object.keys(sections).join(', ')}) with key ${key.keyId}\n`);
  const desired = await setDesired(cloud, io, flags.json === true, target, { configRevision: revision }, `config revision ${revision}`);
  if (flags.json) io.out(JSON.stringify({ revision, sections: Object.keys(sections), keyId: key.keyId, desired }) + '\n');
  return 0;
}
