import { CodedError } from '@fieldmesh/device-sdk/coded-error';

/** Error catalog of the local HTTP API. Replies carry `{ error: code, reason }`. */
export const HTTP_ERRORS = {
  FM_ERR_HTTP_NOT_FOUND: {
    meaning: 'No route of the local HTTP API has this path.',
    howToSolve: 'Use one of the routes listed in gateway/src/http/HTTP.md.',
  },
  FM_ERR_HTTP_METHOD: {
    meaning: 'The route exists but not for this method.',
    howToSolve: 'Use a method the Allow header of the reply lists.',
  },
  FM_ERR_HTTP_BAD_REQUEST: {
    meaning: 'A query parameter is missing or malformed.',
    howToSolve: 'Fix the parameter the reason names.',
  },
  FM_ERR_HTTP_INTERNAL: {
    meaning: 'The handler failed; the gateway keeps running.',
    howToSolve: 'The gateway log has the details.',
  },
  FM_ERR_HTTP_LISTEN: {
    meaning: 'The HTTP port is taken or not permitted.',
    howToSolve: 'Set http.port to a free port (or 0 for any).',
  },
  FM_ERR_HTTP_HOST: {
    meaning: 'The request named a Host this gateway does not answer to (421 Misdirected Request): a DNS rebinding guard.',
    howToSolve: 'Use its IP address, localhost or its host name, or add the name to http.allowedHosts.',
  },
} as const;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** Thrown by a handler to answer with `status` and `{ error, reason }`. */
export class HttpError extends CodedError<HttpErrorCode> {
  constructor(
    readonly status: number,
    code: HttpErrorCode,
    readonly reason: string,
  ) {
    super(code, HTTP_ERRORS, reason);
    this.name = 'HttpError';
  }
}
