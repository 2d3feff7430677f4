import { codedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/** Error catalog of the `fieldmesh` CLI itself (each component's errors are in its own catalog). */
export const cliErrors = {
  FM_ERR_CLI_USAGE: {
    meaning: 'A command was given an unknown flag, a missing or malformed value, or an argument it does not take (exit code 2).',
    howToSolve: 'Fix what the message names; `fieldmesh <command> --help` lists the flags and their values.',
  },
  FM_ERR_CLI_CLOUD_BRIDGE_MISSING: {
    meaning: '`fieldmesh cloud` or `fieldmesh demo` ran where the @fieldmesh/cloud-bridge package is not installed.',
    howToSolve: 'Install it beside the gateway (npm install @fieldmesh/cloud-bridge, or npm ci in the repository); a gateway-only install runs `fieldmesh gateway` without it.',
  },
  FM_ERR_CLI_FLEET_KEY_FILE: {
    meaning: 'The release key file given with --key cannot be read, is not JSON, or is not a fieldmesh release key (kind, keys or keyId do not match) (exit code 2).',
    howToSolve: 'Pass the file `fieldmesh fleet keygen --out FILE` wrote; its public key must be in the gateways\' `fleet.releaseKeys`.',
  },
  FM_ERR_CLI_FLEET_KEY_EXISTS: {
    meaning: '`fieldmesh fleet keygen` was asked to write a key file where a file already exists; it never overwrites one, since gateways trust only the keys they were given (exit code 2).',
    howToSolve: 'Choose another --out path. Delete the old file only once no gateway lists its public key in `fleet.releaseKeys`.',
  },
  FM_ERR_CLI_FLEET_BUNDLE: {
    meaning: 'The release bundle given with --bundle cannot be read, holds no readable `fieldmesh/bundle-manifest.json`, or its version is not the one asked for (exit code 2).',
    howToSolve: 'Pass a bundle made by `npm run bundle` (fieldmesh-bundle-<version>.tgz) whose manifest version equals the version argument.',
  },
  FM_ERR_CLI_FLEET_CONFIG_FILE: {
    meaning: 'The config revision file given with --file cannot be read, is not a YAML mapping of gateway.yaml sections, is too large, or sets a section a revision may not set (id, gatewayId, dataDir, fleet) (exit code 2).',
    howToSolve: 'Write only the top-level gateway.yaml sections to replace (rules, uplink, storage, …); each replaces the whole section on the gateways.',
  },
  FM_ERR_CLI_FLEET_UNREACHABLE: {
    meaning: 'A `fieldmesh fleet` command could not reach the cloud bridge\'s HTTP API (exit code 1).',
    howToSolve: 'Check --url (or FM_CLOUD_URL): the cloud\'s `http` address, e.g. http://cloud.example:8080, and that `fieldmesh cloud` runs there.',
  },
  FM_ERR_CLI_FLEET_REFUSED: {
    meaning: 'The cloud bridge refused a fleet request; its JSON error, with its own FM_ERR_ code, is in the message (exit code 1).',
    howToSolve: 'Act on the cloud\'s error: a 401/403 wants a fleet admin token in --token (or FM_FLEET_TOKEN); other codes are in docs/ERRORS.md.',
  },
} as const;

export type CliErrorCode = keyof typeof cliErrors;

export class CliError extends codedErrorClass('CliError', cliErrors) {}
