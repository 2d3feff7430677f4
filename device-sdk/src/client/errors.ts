import { codedErrorClass } from '../coded-error.js';

/**
 * Error catalog of the device client and serial bridge. Construction throws
 * DeviceClientError; connection trouble at run time is counted in stats(), logged and retried.
 */
export const clientErrors = {
  FM_ERR_CLIENT_CONFIG: {
    meaning: 'A DeviceClient or SerialBridge option is invalid.',
    howToSolve: 'the message names the option and the accepted values',
  },
  FM_ERR_CLIENT_READING: {
    meaning: 'A reading given to publish() cannot be sent (bad sensor name, non-finite number, time not in ms since the epoch).',
    howToSolve: 'sensor names use letters, digits and _ . : - with / between levels; values are finite numbers, booleans or strings; ts is ms since 1970',
  },
  FM_ERR_CLIENT_AUTH: {
    meaning: 'The gateway refused the login: CONNACK 2 (the client id is not the device id), 4 (wrong username or password) or 5 (no credentials there); stats().lastError carries the code and the fix.',
    howToSolve: 'use the device id as username and the password the gateway printed when it created the device (see gateway INGEST.md); the client keeps retrying with backoff',
  },
  FM_ERR_CLIENT_CONNECT: {
    meaning: 'The gateway could not be reached (refused, timed out, connection lost).',
    howToSolve: 'nothing if it is a restart: readings wait in the offline buffer and the client reconnects with backoff. Otherwise check the URL, network and that the gateway runs',
  },
  FM_ERR_CLIENT_DISCOVERY: {
    meaning: 'No gateway answered on mDNS (_fieldmesh._udp) in time.',
    howToSolve: 'mDNS needs multicast on the local link; give the gateway URL instead (gateway: "mqtt://host:1883")',
  },
  FM_ERR_CLIENT_BUFFER: {
    meaning: 'The offline buffer file cannot be read or written.',
    howToSolve: 'check the path, its directory permissions and free disk space; a corrupt last line (power loss) is skipped and counted',
  },
  FM_ERR_CLIENT_CLOSED: {
    meaning: 'Publish() or flush() on a closed client.',
    howToSolve: 'create a new DeviceClient',
  },
} as const;

export type ClientErrorCode = keyof typeof clientErrors;

export class DeviceClientError extends codedErrorClass('DeviceClientError', clientErrors) {}
