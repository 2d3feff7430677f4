/** Error catalog of the rollups component (stable codes; see rules/errors.ts for the pattern). */
export const ROLLUP_ERRORS = {
  FM_ERR_ROLLUP_UNKNOWN_KEY: 'Remove the key or fix its spelling; the message lists the accepted keys.',
  FM_ERR_ROLLUP_BAD_DURATION: 'Give a duration as milliseconds (a number) or a string like `30s`, `10m`, `14d`.',
  FM_ERR_ROLLUP_BAD_NUMBER: 'Give a positive whole number in the range the message states.',
  FM_ERR_ROLLUP_NOT_AN_OBJECT: 'Write the section as a YAML map, e.g. `rollups: { minute: { retention: 14d } }`.',
} as const;

export type RollupErrorCode = keyof typeof ROLLUP_ERRORS;

export class RollupError extends Error {
  override name = 'RollupError';
  readonly solve: string;
  constructor(
    readonly code: RollupErrorCode,
    readonly key: string,
    detail: string,
  ) {
    super(`${key}: ${detail}. ${ROLLUP_ERRORS[code]}`);
    this.solve = ROLLUP_ERRORS[code];
  }
}
