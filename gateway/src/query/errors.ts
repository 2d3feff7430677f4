import { keyedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of the local query API. Each becomes an HTTP 400 with `{ error: code, reason: message,
 * param }`; the message names the parameter, the bad value and the fix.
 */
export const QUERY_ERRORS = {
  FM_ERR_QUERY_MISSING_PARAM: {
    meaning: 'A required query parameter is missing.',
    howToSolve: 'Add the parameter named in the message, e.g. /api/readings?series=dev/temp&from=0&to=1700000000000.',
  },
  FM_ERR_QUERY_NOT_A_NUMBER: {
    meaning: 'A time or step parameter is not a whole number.',
    howToSolve: 'Give times and step as whole milliseconds since the Unix epoch (digits only, no units).',
  },
  FM_ERR_QUERY_RANGE: {
    meaning: '`from` is after `to`.',
    howToSolve: 'Make `from` less than or equal to `to` (the range is from inclusive, to exclusive).',
  },
  FM_ERR_QUERY_BAD_STEP: {
    meaning: '`step` is not a positive whole number of milliseconds.',
    howToSolve: 'Give `step` as a positive whole number of milliseconds, e.g. 60000 for one point per minute.',
  },
  FM_ERR_QUERY_TOO_MANY_POINTS: {
    meaning: 'The range and step ask for more points than one answer may hold.',
    howToSolve: 'Ask for a shorter range or a larger step: (to - from) / step must stay within the limit in the message.',
  },
  FM_ERR_QUERY_RAW_SCAN: {
    meaning: 'The step must be computed from raw readings, and the range holds more of them than one query may scan.',
    howToSolve: 'Use a step that is a multiple of 60000 (read from the 1-minute rollups) or a shorter range.',
  },
  FM_ERR_QUERY_BAD_LIMIT: {
    meaning: '`limit` is not a whole number within the accepted range.',
    howToSolve: 'Give `limit` as a whole number from 1 to the maximum in the message.',
  },
  FM_ERR_QUERY_BAD_CURSOR: {
    meaning: 'The page cursor is malformed or belongs to another query.',
    howToSolve: 'Pass back the `next` value of the previous page unchanged, with the same series, from and to.',
  },
  FM_ERR_QUERY_BAD_SERIES: {
    meaning: 'A series name or pattern is malformed.',
    howToSolve: 'Name a series as device/sensor (or, where a pattern is accepted, with * for any part).',
  },
  FM_ERR_QUERY_UNKNOWN_PARAM: {
    meaning: 'The request carries a parameter this route does not take.',
    howToSolve: 'Remove the parameter or fix its spelling; the message lists the accepted ones.',
  },
  FM_ERR_QUERY_DUPLICATE_PARAM: {
    meaning: 'A parameter is given more than once.',
    howToSolve: 'Give each parameter once.',
  },
  FM_ERR_QUERY_NO_SUCH_SERIES: {
    meaning: 'The gateway holds no reading of this series yet (HTTP 404 on /api/latest).',
    howToSolve: 'Check the series name (device/sensor) against /api/series; a series exists from its first stored reading on.',
  },
  FM_ERR_QUERY_METHOD: {
    meaning: 'The query routes answer GET only (HTTP 405).',
    howToSolve: 'Send a GET request.',
  },
  FM_ERR_QUERY_NO_TAIL: {
    meaning: 'This server was started without the live tail stream (/api/tail answers HTTP 404).',
    howToSolve: 'Poll /api/readings instead; a gateway running local processing serves the tail.',
  },
  FM_ERR_QUERY_TAIL_BUSY: {
    meaning: 'As many tail clients are connected as the gateway allows (HTTP 503).',
    howToSolve: 'Close an idle tail client, or retry later; each tail holds a connection and a buffer on the gateway.',
  },
  FM_ERR_QUERY_INTERNAL: {
    meaning: 'The query failed inside the gateway (HTTP 500); the gateway keeps running.',
    howToSolve: 'The gateway log has the details; a store error code in it says what failed.',
  },
} as const;

export type QueryErrorCode = keyof typeof QUERY_ERRORS;

export class QueryError extends keyedErrorClass('QueryError', QUERY_ERRORS) {
  /** The query parameter at fault, as the 400 answer names it. */
  get param(): string {
    return this.key;
  }
}
