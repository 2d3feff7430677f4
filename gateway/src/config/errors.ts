import { CodedError } from '@fieldmesh/device-sdk/coded-error';

/** Error catalog of the gateway config. Messages name the key path; the fix is below. */
export const CONFIG_ERRORS = {
  FM_ERR_CONFIG_FILE: {
    meaning: 'The config file could not be read.',
    howToSolve: 'Check the path given to --config and its permissions, or omit --config to run on embedded defaults.',
  },
  FM_ERR_CONFIG_TOO_LARGE: {
    meaning: 'The config file is larger than 1 MiB (or not a regular file): a config is a few kB, and parsing a huge one takes gigabytes.',
    howToSolve: 'Point --config at the gateway YAML itself; move bulk data (device lists, rules) out of generated configs or trim them.',
  },
  FM_ERR_CONFIG_DATA_DIR: {
    meaning: 'dataDir is not a directory the gateway can create and write (it is a file, permission is denied, or it is on a read-only file system).',
    howToSolve: 'Set dataDir to a writable directory (it is created if missing), remove the file in its way, give the gateway\'s user write access (chown/chmod), or remount a read-only file system read-write.',
  },
  FM_ERR_CONFIG_YAML: {
    meaning: 'The config file is not valid YAML.',
    howToSolve: 'Fix the syntax at the line and column given (indentation, a missing colon or quote).',
  },
  FM_ERR_CONFIG_UNKNOWN_KEY: {
    meaning: 'The key is not part of the gateway config (a typo, or a key of another section).',
    howToSolve: 'Remove it or use one of the known keys listed in the message.',
  },
  FM_ERR_CONFIG_TYPE: {
    meaning: 'The value has the wrong type.',
    howToSolve: 'Give the type the message names (e.g. a number without quotes, a list in [ ]).',
  },
  FM_ERR_CONFIG_ENV: {
    meaning: 'A ${VAR} in the config file names a variable that is not set (or ${VAR:?message} refused).',
    howToSolve: 'Set the variable in the environment (or as a systemd credential), give a default with ${VAR:-default}, or write $${ for a literal ${.',
  },
  FM_ERR_CONFIG_RANGE: {
    meaning: 'The value is of the right type but out of range or malformed.',
    howToSolve: 'Use a value within the limits the message names.',
  },
} as const;

export type ConfigErrorCode = keyof typeof CONFIG_ERRORS;

export class ConfigError extends CodedError<ConfigErrorCode> {
  constructor(
    code: ConfigErrorCode,
    /** Dotted path of the offending key, e.g. `broker.port` or `serial[0].baud`; '' for the file. */
    readonly path: string,
    detail: string,
  ) {
    super(code, CONFIG_ERRORS, `${path ? `${path}: ` : ''}${detail}`);
    this.name = 'ConfigError';
  }
}
