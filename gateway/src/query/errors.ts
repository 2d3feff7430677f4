import { CodedError, detailThenHow } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of the local query API. Each becomes an HTTP 400 with `{ error: code, reason: message,
 * param }`; the message names the parameter, the bad value and the fix.
 */
export const QUERY_ERRORS = {
  FM_ERR_QUERY_MISSING_PARAM: 'Add the parameter named in the message, e.g. /api/readings?series=dev/temp&from=0&to=1700000000000.',
  FM_ERR_QUERY_NOT_A_NUMBER: 'Give times and step as whole milliseconds since the Unix epoch (digits only, no units).',
  FM_ERR_QUERY_RANGE: 'Make `from` less than or equal to `to` (the range is from inclusive, to exclusive).',
  FM_ERR_QUERY_BAD_STEP: 'Give `step` as a positive whole number of milliseconds, e.g. 60000 for one point per minute.',
  FM_ERR_QUERY_TOO_MANY_POINTS: 'Ask for a shorter range or a larger step: (to - from) / step must stay within the limit in the message.',
  FM_ERR_QUERY_RAW_SCAN:
    'This step is computed from raw readings and the range holds too many: use a step that is a multiple of 60000 (read from the 1-minute rollups) or a shorter range.',
  FM_ERR_QUERY_BAD_LIMIT: 'Give `limit` as a whole number from 1 to the maximum in the message.',
  FM_ERR_QUERY_BAD_CURSOR: 'Pass back the `next` value of the previous page unchanged, with the same series, from and to.',
  FM_ERR_QUERY_BAD_SERIES: 'Name a series as device/sensor (or, where a pattern is accepted, with * for any part).',
  FM_ERR_QUERY_UNKNOWN_PARAM: 'Remove the parameter or fix its spelling; the message lists the accepted ones.',
  FM_ERR_QUERY_DUPLICATE_PARAM: 'Give each parameter once.',
} as const;

export type QueryErrorCode = keyof typeof QUERY_ERRORS;

export class QueryError extends CodedError<QueryErrorCode> {
  readonly solve: string;
  constructor(
    code: QueryErrorCode,
    readonly param: string,
    detail: string,
  ) {
    super(code, QUERY_ERRORS[code], detailThenHow(code, `${param}: ${detail}`, QUERY_ERRORS[code]));
    this.name = 'QueryError';
    this.solve = this.how;
  }
}
