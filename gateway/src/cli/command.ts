import { CodedError } from '@fieldmesh/device-sdk/coded-error';
import { cliErrors, type CliErrorCode } from './errors.js';

/** One `fieldmesh` subcommand. `run` returns the process exit code; errors go to stderr. */
export interface Command {
  name: string;
  /** One line for `fieldmesh --help`. */
  summary: string;
  /** Full text for `fieldmesh <name> --help`. */
  help: string;
  run(argv: string[]): Promise<number>;
}

/** A usage error: printed with the command's help hint and exit code 2. */
export class UsageError extends CodedError<CliErrorCode> {
  constructor(detail: string) {
    super('FM_ERR_CLI_USAGE', cliErrors, detail);
    this.name = 'UsageError';
  }
}

/**
 * Parses `--key value`, `--key=value` and `--flag` arguments. Only keys listed in `known`
 * are accepted, so a typo fails loudly instead of being ignored.
 */
export function parseFlags(
  argv: string[],
  known: Record<string, 'string' | 'boolean'>,
): { flags: Record<string, string | boolean>; rest: string[] } {
  const flags: Record<string, string | boolean> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      rest.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const key = arg.slice(2, eq === -1 ? undefined : eq);
    const kind = known[key];
    if (kind === undefined) throw new UsageError(`unknown option --${key}`);
    if (kind === 'boolean') {
      if (eq !== -1) throw new UsageError(`option --${key} takes no value`);
      flags[key] = true;
    } else if (eq !== -1) {
      flags[key] = arg.slice(eq + 1);
    } else {
      const value = argv[++i];
      if (value === undefined) throw new UsageError(`option --${key} needs a value`);
      flags[key] = value;
    }
  }
  return { flags, rest };
}
