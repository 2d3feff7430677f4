/**
 * The flags of every `fieldmesh fleet` subcommand, in one table: each subcommand parses with its
 * row, and test/gateway/cli/fleet checks every command line docs/FLEET.md and README.md show
 * against it, so the documentation cannot name a flag the CLI does not take.
 */
type FlagKinds = Record<string, 'string' | 'boolean'>;

/** Every subcommand but keygen talks to the cloud. */
const CONNECTION = { url: 'string', token: 'string', json: 'boolean' } as const;
/** Whom a change is for: exactly one is given (fleet-target.ts). */
const TARGET = { gateway: 'string', group: 'string', all: 'boolean' } as const;

export const FLEET_FLAGS = {
  keygen: { out: 'string', json: 'boolean' },
  status: { ...CONNECTION },
  'set-version': { ...CONNECTION, ...TARGET, bundle: 'string', key: 'string', 'upload-only': 'boolean' },
  'set-config': { ...CONNECTION, ...TARGET, file: 'string', key: 'string', revision: 'string', note: 'string' },
  rollout: { ...CONNECTION, version: 'string', 'config-revision': 'string', group: 'string', canary: 'string', waves: 'string', 'max-failure': 'string', 'wave-timeout': 'string' },
  pause: { ...CONNECTION },
  resume: { ...CONNECTION },
  cancel: { ...CONNECTION },
  history: { ...CONNECTION, gateway: 'string' },
  clear: { ...CONNECTION, ...TARGET },
  rollback: { ...CONNECTION, ...TARGET, version: 'string', 'config-revision': 'string', key: 'string', order: 'string', note: 'string' },
} as const satisfies Record<string, FlagKinds>;

export type FleetSubcommand = keyof typeof FLEET_FLAGS;
