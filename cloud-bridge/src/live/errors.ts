import { codedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of the live subscription component (WebSocket stream, MQTT over WebSocket, tokens).
 * Code branches on `code`, never on message text; each entry says what to do about it.
 */
export const LIVE_ERRORS = {
  FM_ERR_LIVE_TOKENS: {
    meaning: 'The live token file (<dataDir>/live-tokens.json) is unreadable or malformed.',
    howToSolve: 'Remove it: the bridge issues and prints a new token at its next start (old tokens stop working).',
  },
  FM_ERR_LIVE_FILTER: {
    meaning: 'A subscription filter is invalid: patterns are device-id characters, `/` and `*` (one level) or `**` (any levels), at most 32 patterns of 200 characters.',
    howToSolve: 'Fix the gateway= / series= query parameter.',
  },
} as const;

export type LiveErrorCode = keyof typeof LIVE_ERRORS;

export class LiveError extends codedErrorClass('LiveError', LIVE_ERRORS) {}
