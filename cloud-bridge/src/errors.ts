import { codedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of the cloud bridge. Code branches on `code`, never on message text; each entry
 * says what to do about it.
 */
export const CLOUD_ERRORS = {
  FM_ERR_CLOUD_CONFIG: 'The cloud bridge config is invalid: the message names the key. Fix that key in the YAML file (see cloud-bridge/src/config.ts for every key, unit and default).',
  FM_ERR_CLOUD_CONFIG_ENV: 'A ${VAR} in the config file names a variable that is not set (or ${VAR:?message} refused); the message names the key and the variable. Set it in the environment (or as a systemd credential), give a default with ${VAR:-default}, or write $${ for a literal ${.',
  FM_ERR_CLOUD_CONFIG_FILE: 'The config file could not be read or is not YAML. Check the path given to --config and its syntax.',
  FM_ERR_CLOUD_STORE_OPEN: 'The cloud database could not be opened, or not with WAL and synchronous=FULL. Check that the store path is on a writable local filesystem.',
  FM_ERR_CLOUD_CREDENTIALS: 'The gateway credentials file is unreadable or malformed. Restore it from backup or remove it and add the gateways again with `fieldmesh cloud add-gateway`.',
  FM_ERR_CLOUD_GATEWAY_ID: 'A gateway id must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63} (it stands in MQTT topics). Pick another id.',
  FM_ERR_CLOUD_GATEWAY_EXISTS: 'That gateway id already has credentials. Use --rotate to issue a new password (the old one stops working).',
  FM_ERR_CLOUD_LISTEN: 'A listener could not bind its port. Pick a free port in the config, or 0 for any free port.',
  FM_ERR_CLOUD_BAD_BATCH_SERIES: 'A batch carried a reading whose series name is not `device/sensor` of safe characters. The batch is refused; the gateway quarantines it after repeated refusals.',
  FM_ERR_CLOUD_BATCH_EPOCH: 'A batch carried an epoch that is not 1-64 characters of [A-Za-z0-9_.-]. The batch is refused: gateways make epochs of hex digits, so this is a foreign or broken sender.',
  FM_ERR_CLOUD_BATCH_GATEWAY: 'A batch names a gateway other than the one whose topic it came on. The batch is refused: fix the gateway id in the gateway config.',
  FM_ERR_CLOUD_TLS: 'A TLS file of the broker listener (broker.tls.cert, key or ca) cannot be read. Give readable PEM files (paths relative to the config file), or remove broker.tls for plain TCP.',
  FM_ERR_CLOUD_ALERTS: 'An alerts message (fm/g/<gateway>/alerts) is not valid (FORMAT.md §9): refused with a nack naming the field. A gateway skips events refused repeatedly (counted as alertsSkipped); check the gateway version.',
} as const;

export type CloudErrorCode = keyof typeof CLOUD_ERRORS;

export class CloudError extends codedErrorClass('CloudError', CLOUD_ERRORS) {}
