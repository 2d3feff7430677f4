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
} as const;

export type CliErrorCode = keyof typeof cliErrors;

export class CliError extends codedErrorClass('CliError', cliErrors) {}
