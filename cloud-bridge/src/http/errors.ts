import { CodedError } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of the cloud's HTTP API (cloud-bridge/src/http/HTTP.md). A refusal answers with its
 * status and `{ error, code }`: `error` is the message (what was wrong, then the code and the fix),
 * `code` is what a client branches on.
 */
export const CLOUD_HTTP_ERRORS = {
  FM_ERR_CLOUD_HTTP_BAD_REQUEST: {
    meaning: 'A query parameter or the request body is missing or malformed (HTTP 400).',
    howToSolve: 'Fix what the message names; cloud-bridge/src/http/HTTP.md lists each route\'s parameters.',
  },
  FM_ERR_CLOUD_HTTP_UNAUTHORIZED: {
    meaning: 'The request carries no valid live token (HTTP 401).',
    howToSolve: 'Send the token as ?token=, Authorization: Bearer or the dashboard cookie; the bridge prints the dashboard URL with a token at its first start.',
  },
  FM_ERR_CLOUD_HTTP_FORBIDDEN: {
    meaning: 'The token is valid but may not do this (HTTP 403): fleet writes need a fleet admin token, a live token or a gateway credential only reads.',
    howToSolve: 'Send a fleet admin token (`fieldmesh cloud add-admin-token NAME`) as Authorization: Bearer.',
  },
  FM_ERR_CLOUD_HTTP_CONFLICT: {
    meaning: 'The request contradicts what the cloud holds (HTTP 409): a release or config revision already stored with other content, an envelope before its bundle, a rollout while another is active (running or paused), pausing a rollout that is not running or resuming one that is not paused.',
    howToSolve: 'Published versions and revisions are immutable: use a new version or revision number; upload the bundle before its envelope; a new rollout waits until the active one is done or stopped (resume a paused one: pausing does not end it); `fieldmesh fleet status` shows each rollout\'s state.',
  },
  FM_ERR_CLOUD_HTTP_RANGE: {
    meaning: 'The Range header is not one range `bytes=N-` or `bytes=N-M` within the file (HTTP 416).',
    howToSolve: 'Resume from a byte offset below the file size (Content-Range carries it: bytes */SIZE), or ask without Range for the whole file.',
  },
  FM_ERR_CLOUD_HTTP_NOT_FOUND: {
    meaning: 'No route has this path, or the thing asked for does not exist (HTTP 404).',
    howToSolve: 'Check the path against cloud-bridge/src/http/HTTP.md, and the ids (gateway, epoch, alertId) against /api/alerts.',
  },
  FM_ERR_CLOUD_HTTP_METHOD: {
    meaning: 'The API answers GET and HEAD, and POST on /api/alerts/ack only (HTTP 405).',
    howToSolve: 'Use GET, or POST for acknowledging an alert.',
  },
  FM_ERR_CLOUD_HTTP_HOST: {
    meaning: 'The Host header names no host this server answers to (HTTP 421): a DNS-rebinding guard.',
    howToSolve: 'Open the server by a name listed in http.allowedHosts, or add the name there.',
  },
  FM_ERR_CLOUD_HTTP_TOO_LARGE: {
    meaning: 'The request body is larger than the route takes (HTTP 413).',
    howToSolve: 'Send the small JSON body the route documents.',
  },
  FM_ERR_CLOUD_HTTP_MEDIA_TYPE: {
    meaning: 'The request body is not of the content type the route takes (HTTP 415).',
    howToSolve: 'Send `content-type: application/json`.',
  },
  FM_ERR_CLOUD_HTTP_INTERNAL: {
    meaning: 'The handler failed (HTTP 500); the bridge keeps running.',
    howToSolve: 'The cloud log has the details; a store error there says what failed.',
  },
} as const;

export type CloudHttpErrorCode = keyof typeof CLOUD_HTTP_ERRORS;

/** The status each refusal answers with. */
const BY_STATUS = {
  400: 'FM_ERR_CLOUD_HTTP_BAD_REQUEST',
  401: 'FM_ERR_CLOUD_HTTP_UNAUTHORIZED',
  403: 'FM_ERR_CLOUD_HTTP_FORBIDDEN',
  404: 'FM_ERR_CLOUD_HTTP_NOT_FOUND',
  405: 'FM_ERR_CLOUD_HTTP_METHOD',
  409: 'FM_ERR_CLOUD_HTTP_CONFLICT',
  413: 'FM_ERR_CLOUD_HTTP_TOO_LARGE',
  415: 'FM_ERR_CLOUD_HTTP_MEDIA_TYPE',
  416: 'FM_ERR_CLOUD_HTTP_RANGE',
  421: 'FM_ERR_CLOUD_HTTP_HOST',
  500: 'FM_ERR_CLOUD_HTTP_INTERNAL',
} as const satisfies Record<number, CloudHttpErrorCode>;

export type CloudHttpStatus = keyof typeof BY_STATUS;

/** A refusal with its HTTP status; its code follows from the status. */
export class CloudHttpError extends CodedError<CloudHttpErrorCode> {
  constructor(
    readonly status: CloudHttpStatus,
    detail: string,
  ) {
    super(BY_STATUS[status], CLOUD_HTTP_ERRORS, detail);
    this.name = 'CloudHttpError';
  }

  /** The JSON body of the answer. */
  body(): { error: string; code: CloudHttpErrorCode } {
    return { error: this.message, code: this.code };
  }
}
