import { codedErrorClass } from '../coded-error.js';

/**
 * Error catalog of the SenML codec. Code branches on `code`, never on message text.
 * Each entry says what went wrong and how to solve it; code branches on the code, never on the text.
 */
export const SENML_ERRORS = {
  FM_ERR_SENML_JSON: 'The pack is not a JSON array of objects. Send an RFC 8428 JSON pack: `[{"n":"temp","v":21.5}]`.',
  FM_ERR_SENML_LIMIT: 'The pack exceeds a codec limit (records per pack, string length, bytes). Split the pack or shorten the strings; see SENML.md "Limits".',
  FM_ERR_SENML_NAME: 'A resolved name (bn + n) is missing or not a valid sensor name. Use letters, digits and `_ . : -`, levels separated by `/`, at most 128 chars; a `<device>/` prefix must be your own device id.',
  FM_ERR_SENML_TIME: 'A time (bt + t) is not a finite number. Send seconds since 1970 or a relative time (< 2^28) as RFC 8428 §4.5.3 describes.',
  FM_ERR_SENML_VALUE: 'A record carries no value, more than one, or a wrong-typed one. Give exactly one of v (finite number), vb (boolean) or vs (string).',
  FM_ERR_SENML_UNSUPPORTED: 'The pack uses a SenML feature fieldmesh does not store: vd (data values), s (sums), a must-understand field ending in `_`, or bver > 10. Send v/vb/vs values.',
  FM_ERR_SENML_SEQ: '`fm_seq` must be a non-negative safe integer in the first record only. Number your messages 0, 1, 2, … per device.',
} as const;

export type SenmlErrorCode = keyof typeof SENML_ERRORS;

export class SenmlError extends codedErrorClass('SenmlError', SENML_ERRORS) {}

export function isSenmlError(err: unknown): err is SenmlError {
  return err instanceof SenmlError;
}
