import { codedErrorClass } from '../coded-error.js';

/**
 * Error catalog of the SenML codec. Code branches on `code`, never on message text.
 * Each entry says what went wrong and how to solve it.
 */
export const SENML_ERRORS = {
  FM_ERR_SENML_JSON: {
    meaning: 'The pack is not a JSON array of objects.',
    howToSolve: 'Send an RFC 8428 JSON pack: `[{"n":"temp","v":21.5}]`.',
  },
  FM_ERR_SENML_LIMIT: {
    meaning: 'The pack exceeds a codec limit (records per pack, string length, bytes).',
    howToSolve: 'Split the pack or shorten the strings; see SENML.md "Limits".',
  },
  FM_ERR_SENML_NAME: {
    meaning: 'A resolved name (bn + n) is missing or not a valid sensor name.',
    howToSolve: 'Use letters, digits and `_ . : -`, levels separated by `/`, at most 128 chars; a `<device>/` prefix must be your own device id.',
  },
  FM_ERR_SENML_TIME: {
    meaning: 'A time (bt + t) is not a finite number.',
    howToSolve: 'Send seconds since 1970 or a relative time (< 2^28) as RFC 8428 §4.5.3 describes.',
  },
  FM_ERR_SENML_VALUE: {
    meaning: 'A record carries no value, more than one, or a wrong-typed one.',
    howToSolve: 'Give exactly one of v (finite number), vb (boolean) or vs (string).',
  },
  FM_ERR_SENML_UNSUPPORTED: {
    meaning: 'The pack uses a SenML feature fieldmesh does not store: vd (data values), s (sums), a must-understand field ending in `_`, or bver > 10.',
    howToSolve: 'Send v/vb/vs values.',
  },
  FM_ERR_SENML_SEQ: {
    meaning: '`fm_seq` is not a non-negative safe integer, or stands in a record other than the first.',
    howToSolve: 'Put `fm_seq` in the first record only, as a non-negative safe integer. Number your messages 0, 1, 2, … per device.',
  },
} as const;

export type SenmlErrorCode = keyof typeof SENML_ERRORS;

export class SenmlError extends codedErrorClass('SenmlError', SENML_ERRORS) {}

export function isSenmlError(err: unknown): err is SenmlError {
  return err instanceof SenmlError;
}
