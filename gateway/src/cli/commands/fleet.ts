import { generateReleaseKey } from '@fieldmesh/protocol';
import { systemClock } from '@fieldmesh/device-sdk';
import { CodedError } from '@fieldmesh/device-sdk/coded-error';
import { parseFlags, UsageError, type Command } from '../command.js';
import { setConfig } from '../fleet/config-command.js';
import type { FleetIo } from '../fleet/desired-change.js';
import { rollback, setVersion } from '../fleet/release-commands.js';
import { writeReleaseKeyFile } from '../fleet/release-key-file.js';
import { clearDesired, fleetHistory, fleetStatus, rolloutAction, startRollout } from '../fleet/rollout-commands.js';
import { FLEET_FLAGS, type FleetSubcommand } from '../fleet/fleet-flags.js';

const help = `usage: fieldmesh fleet <subcommand> [options]

Signed releases and config revisions for many gateways, through the cloud bridge (docs/FLEET.md).
The release key signs; the cloud stores and delivers; each gateway checks the signature against
its fleet.releaseKeys, installs side by side and rolls back by itself when the new one is unhealthy.

  keygen --out FILE        write a new release key file (0600, never overwrites) and print its
                           public key, keyId and the fleet.releaseKeys line for gateway.yaml
  status [--json]          every gateway: tags, online, running version / config revision,
                           desired, last outcome and reason; rollouts with wave progress
  set-version V --bundle F.tgz --key K  (TARGET | --upload-only)
                           upload a bundle (npm run bundle), sign its release envelope, set it
                           desired for TARGET (--upload-only: store it for a later rollout)
  set-config --file F.yaml --key K [--revision N] [--note TEXT]  TARGET
                           sign the file's top-level sections as config revision N (default: one
                           above the highest the cloud knows) and set it desired
  rollout (--version V | --config-revision N) [--group TAG] [--canary PCT] [--waves N]
          [--max-failure PCT] [--wave-timeout SEC]
                           roll out in waves: a canary wave, then N waves; stops past the failure share
  pause ID | resume ID     hold or continue a rollout
  cancel ID                stop a running or paused rollout for good (as the failure cutoff
                           stops one), so a new one can start
  history [--gateway ID]   what was desired, adopted, rolled back or refused, and why
  clear TARGET             remove that desired entry (its gateways follow their groups or --all)
  rollback --version V [--config-revision N] --key K [--order N] [--note TEXT]  TARGET
                           explicit downgrade: a signed rollback order (order = highest known + 1)

TARGET is exactly one of --gateway ID, --group TAG (a gateway's fleet.tags), --all.
Every subcommand but keygen takes:
  --url URL      the cloud bridge's HTTP address (default FM_CLOUD_URL, else http://127.0.0.1:8080)
  --token TOKEN  a fleet admin token (or FM_FLEET_TOKEN), issued on the cloud host by
                 fieldmesh cloud add-admin-token NAME; status and history also take a live token
  --json         JSON instead of text: the cloud's answer (set-version, set-config, rollback:
                 one object with what was stored or signed and the desired answer)
Exit code 2 for a usage error or a bad local file (key, bundle, config), 1 when the cloud cannot be
reached or refuses (its JSON error is shown).
`;

/** Local-input errors: like usage errors, the operator fixes a flag or a file (exit 2). */
const INPUT_ERRORS = new Set(['FM_ERR_CLI_FLEET_KEY_FILE', 'FM_ERR_CLI_FLEET_KEY_EXISTS', 'FM_ERR_CLI_FLEET_BUNDLE', 'FM_ERR_CLI_FLEET_CONFIG_FILE']);

function keygen(argv: string[], io: FleetIo): number {
  const { flags, rest } = parseFlags(argv, FLEET_FLAGS.keygen);
  if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
  if (typeof flags.out !== 'string') throw new UsageError('keygen needs --out FILE: where to write the new release key (kept secret, 0600)');
  const key = generateReleaseKey();
  writeReleaseKeyFile(flags.out, key);
  if (flags.json) {
    io.out(JSON.stringify({ file: flags.out, publicKey: key.publicKey, keyId: key.keyId }) + '\n');
    return 0;
  }
  io.out(
    [
      `wrote     ${flags.out} (mode 0600): the release signing key; keep it offline and backed up, it is the only key gateways will accept`,
      `keyId     ${key.keyId}`,
      `publicKey ${key.publicKey}`,
      '',
      'put into every gateway.yaml (and cloud.yaml, for early refusal of foreign uploads):',
      `fleet:`,
      `  releaseKeys: ["${key.publicKey}"]`,
      '',
    ].join('\n'),
  );
  return 0;
}

const SUBCOMMANDS: Record<FleetSubcommand, (argv: string[], io: FleetIo) => Promise<number> | number> = {
  keygen,
  status: fleetStatus,
  'set-version': setVersion,
  'set-config': setConfig,
  rollout: startRollout,
  pause: (argv, io) => rolloutAction('pause', argv, io),
  resume: (argv, io) => rolloutAction('resume', argv, io),
  cancel: (argv, io) => rolloutAction('cancel', argv, io),
  history: fleetHistory,
  clear: clearDesired,
  rollback,
};

const fleet: Command = {
  name: 'fleet',
  summary: 'signed releases and config revisions for many gateways: keys, desired state, waves',
  help,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === undefined) throw new UsageError(`a subcommand is needed: ${Object.keys(SUBCOMMANDS).join(', ')}`);
    const run = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub as FleetSubcommand] : undefined;
    if (!run) throw new UsageError(`unknown subcommand '${sub}' (one of ${Object.keys(SUBCOMMANDS).join(', ')})`);
    const io: FleetIo = { clock: systemClock, out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), env: process.env };
    try {
      return await run(rest, io);
    } catch (err) {
      if (err instanceof UsageError) {
        process.stderr.write(`fieldmesh fleet ${sub}: ${err.message}\nRun \`fieldmesh fleet --help\` for usage.\n`);
        return 2;
      }
      // The message carries the code and its fix: `detail (FM_ERR_…: how to solve)`.
      if (err instanceof CodedError && err.code.startsWith('FM_ERR_CLI_FLEET_')) {
        process.stderr.write(`fieldmesh fleet ${sub}: ${err.message}\n`);
        return INPUT_ERRORS.has(err.code) ? 2 : 1;
      }
      throw err;
    }
  },
};

export default fleet;
