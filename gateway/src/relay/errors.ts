import { codedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of the relay (gateway-to-gateway delivery through a peer's uplink). Codes are
 * stable: code branches on `err.code`, never on the message text.
 */
export const relayErrors = {
  FM_ERR_RELAY_FRAME: {
    meaning: 'A relay frame was too large, too short or of an unknown type.',
    howToSolve: 'A peer running another fieldmesh version, or a hostile sender on the relay port. The connection is closed and counted; check both gateways run the same release.',
  },
  FM_ERR_RELAY_AUTH: {
    meaning: 'A relay frame did not open under the cluster key (or the session key derived from the handshake).',
    howToSolve: 'Both gateways need the same mesh.key (and mesh.label). During a key rotation, install the new key everywhere before using it.',
  },
  FM_ERR_RELAY_HANDSHAKE: {
    meaning: 'The first frames of a relay connection were not a valid hello.',
    howToSolve: 'A peer running another fieldmesh version or something else listening on the relay port; check relay.port on both gateways.',
  },
  FM_ERR_RELAY_ORIGIN: {
    meaning: 'A batch sent over a relay connection names another gateway than the one that said hello.',
    howToSolve: 'A peer may relay only its own log: a bug or a hostile peer. The connection is closed and counted.',
  },
  FM_ERR_RELAY_UPLINK_DOWN: {
    meaning: 'The peer asked to relay has no working uplink right now.',
    howToSolve: 'Nothing: the origin picks another peer whose gossip says uplink: up, or waits for its own uplink.',
  },
  FM_ERR_RELAY_BUSY: {
    meaning: 'The peer serves as many origins as relay.maxOrigins allows.',
    howToSolve: 'The origin tries another peer; raise relay.maxOrigins on the relay if its link has room.',
  },
  FM_ERR_RELAY_CONFIG: {
    meaning: 'A relay option is out of range.',
    howToSolve: 'Fix the named option in the relay: section of the gateway config.',
  },
} as const;

export type RelayErrorCode = keyof typeof relayErrors;

export class RelayError extends codedErrorClass('RelayError', relayErrors) {}
