import { CodedError, detailCodeHow } from '@fieldmesh/device-sdk/coded-error';

/** Error catalog of the local HTTP API. Replies carry `{ error: code, reason }`. */
export const HTTP_ERRORS = {
  FM_ERR_HTTP_NOT_FOUND: 'No such route. See gateway/src/http/HTTP.md for the routes.',
  FM_ERR_HTTP_METHOD: 'The route exists but not for this method; the Allow header lists the ones it takes.',
  FM_ERR_HTTP_BAD_REQUEST: 'A query parameter is missing or malformed; the reason names it.',
  FM_ERR_HTTP_INTERNAL: 'The handler failed; the gateway log has the details. The gateway keeps running.',
  FM_ERR_HTTP_LISTEN: 'The HTTP port is taken or not permitted. Set http.port to a free port (or 0 for any).',
} as const;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** Thrown by a handler to answer with `status` and `{ error, reason }`. */
export class HttpError extends CodedError<HttpErrorCode> {
  constructor(
    readonly status: number,
    code: HttpErrorCode,
    readonly reason: string,
  ) {
    super(code, HTTP_ERRORS[code], detailCodeHow(code, reason, HTTP_ERRORS[code]));
    this.name = 'HttpError';
  }
}
