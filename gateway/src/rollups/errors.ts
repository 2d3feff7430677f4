import { keyedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/** Error catalog of the rollups component: its config section refused at start or on reload. */
export const ROLLUP_ERRORS = {
  FM_ERR_ROLLUP_UNKNOWN_KEY: {
    meaning: 'The rollups section holds a key it does not know.',
    howToSolve: 'Remove the key or fix its spelling; the message lists the accepted keys.',
  },
  FM_ERR_ROLLUP_BAD_DURATION: {
    meaning: 'A retention or flush interval is not a duration.',
    howToSolve: 'Give a duration as milliseconds (a number) or a string like `30s`, `10m`, `14d`.',
  },
  FM_ERR_ROLLUP_BAD_NUMBER: {
    meaning: 'A count is not a positive whole number within its limit.',
    howToSolve: 'Give a positive whole number in the range the message states.',
  },
  FM_ERR_ROLLUP_NOT_AN_OBJECT: {
    meaning: 'The rollups section (or one of its tiers) is not a map.',
    howToSolve: 'Write the section as a YAML map, e.g. `rollups: { minute: { retention: 14d } }`.',
  },
} as const;

export type RollupErrorCode = keyof typeof ROLLUP_ERRORS;

/** A rollups config that cannot be used. `key` is the config path, e.g. `rollups.hour.retention`. */
export class RollupError extends keyedErrorClass('RollupError', ROLLUP_ERRORS) {}
