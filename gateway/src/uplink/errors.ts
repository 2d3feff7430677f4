import { codedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of the gateway's uplink client (its config and TLS files). What the wire itself
 * can get wrong (batch and ack codecs) is in @fieldmesh/protocol's catalog. Codes are stable: code
 * branches on `err.code`, never on the message text.
 */
export const uplinkErrors = {
  FM_ERR_UPLINK_CONFIG: {
    meaning: 'An uplink option is missing or invalid.',
    howToSolve: 'Fix the uplink section of the gateway config (url mqtt://host:port, username, password).',
  },
  FM_ERR_UPLINK_ORIGIN_KEY: {
    meaning: 'The origin signing key file (<dataDir>/origin-key.json) is there but holds no usable key: empty, cut off, garbage or unreadable.',
    howToSolve:
      'Restore the file from a backup of this gateway; or give the gateway a new key: delete the file, start the gateway (it prints `origin key: NEW`) and run `fieldmesh cloud add-gateway ID --rotate --public-key NEW` at the cloud, which also issues a new uplink password for uplink.password.',
  },
  FM_ERR_UPLINK_TLS: {
    meaning: 'A TLS file of the uplink (uplink.ca, uplink.cert, uplink.key) cannot be read.',
    howToSolve: 'Give the path of a readable PEM file (check the path and that the gateway user may read it), or remove the key to use the system CAs / no client certificate.',
  },
} as const;

export type UplinkErrorCode = keyof typeof uplinkErrors;

export class UplinkError extends codedErrorClass('UplinkError', uplinkErrors) {}
