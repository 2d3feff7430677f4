import { codedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of the cloud bridge. Code branches on `code`, never on message text; each entry
 * says what to do about it.
 */
export const CLOUD_ERRORS = {
  FM_ERR_CLOUD_BATCH_CONFLICT: {
    meaning: 'A batch carries (gateway, epoch, seq) keys that are already stored with different content: not a resend but a replacement. Nothing of it is stored and it is never acked; the stored rows stay.',
    howToSolve: 'Find who authored the stored rows (the log line names gateway, epoch and seqs): a forged batch, or a gateway whose reading log was restored without a new epoch. Give that gateway a new epoch (a fresh data directory) if its log was rewound.',
  },
  FM_ERR_CLOUD_BATCH_SIGNATURE: {
    meaning: 'A batch has no origin signature, or one that does not verify with the public key registered for its origin gateway: the cloud cannot tell it was authored by that gateway (a relay or a stranger may only carry batches).',
    howToSolve: 'Register the gateway\'s public key (`fieldmesh cloud add-gateway ID --public-key KEY`, printed by the gateway at start as `origin key:`), or run `add-gateway ID --rotate` and put the printed signing key in its uplink.signingKey.',
  },
  FM_ERR_CLOUD_GATEWAY_KEY: {
    meaning: 'The public key given to add-gateway is not an Ed25519 public key in base64 (32 bytes).',
    howToSolve: 'Copy the `origin key:` line the gateway prints at start, or leave --public-key out to have a key pair made (its signing key goes in the gateway\'s uplink.signingKey).',
  },
  FM_ERR_CLOUD_CONFIG: {
    meaning: 'The cloud bridge config is invalid: the message names the key.',
    howToSolve: 'Fix that key in the YAML file (see cloud-bridge/src/config.ts for every key, unit and default).',
  },
  FM_ERR_CLOUD_CONFIG_ENV: {
    meaning: 'A ${VAR} in the config file names a variable that is not set (or ${VAR:?message} refused); the message names the key and the variable.',
    howToSolve: 'Set it in the environment (or as a systemd credential), give a default with ${VAR:-default}, or write $${ for a literal ${.',
  },
  FM_ERR_CLOUD_CONFIG_FILE: {
    meaning: 'The config file could not be read or is not YAML.',
    howToSolve: 'Check the path given to --config and its syntax.',
  },
  FM_ERR_CLOUD_STORE_OPEN: {
    meaning: 'The cloud database could not be opened, or not with WAL and synchronous=FULL.',
    howToSolve: 'Check that the store path is on a writable local filesystem.',
  },
  FM_ERR_CLOUD_CREDENTIALS: {
    meaning: 'The gateway credentials file (<dataDir>/gateways.json) is unreadable or malformed (empty or cut off included); while running, the bridge refuses every gateway login and leaves every batch unacknowledged (neither ack nor nack, so the gateways keep and resend them) until it is fixed.',
    howToSolve: 'Restore it from backup; or remove it and add the gateways again with `fieldmesh cloud add-gateway ID --public-key KEY` (KEY: the `origin key:` the gateway prints at its start), giving each its new uplink password.',
  },
  FM_ERR_CLOUD_GATEWAY_ID: {
    meaning: 'A gateway id is not 1-64 of letters, digits, . _ - starting with a letter or digit (protocol/FORMAT.md §1.1: it stands in MQTT topics, URLs and file names), or it ends in .relay.',
    howToSolve: 'Pick another id, the same as the gateway\'s own `id` key (which follows the same rule).',
  },
  FM_ERR_CLOUD_GATEWAY_EXISTS: {
    meaning: 'That gateway id already has credentials.',
    howToSolve: 'Use --rotate to issue a new password (the old one stops working).',
  },
  FM_ERR_CLOUD_LISTEN: {
    meaning: 'A listener could not bind its port.',
    howToSolve: 'Pick a free port in the config, or 0 for any free port.',
  },
  FM_ERR_CLOUD_BAD_BATCH_SERIES: {
    meaning: 'A batch carried a reading whose series name is not `device/sensor` of safe characters.',
    howToSolve: 'The batch is refused; the gateway quarantines it after repeated refusals. Check the gateway version and what its devices send.',
  },
  FM_ERR_CLOUD_BATCH_GATEWAY: {
    meaning: 'A batch names a gateway other than the one whose topic it came on.',
    howToSolve: 'The batch is refused: fix the gateway id in the gateway config.',
  },
  FM_ERR_CLOUD_TLS: {
    meaning: 'A TLS file of the broker listener (broker.tls.cert, key or ca) cannot be read.',
    howToSolve: 'Give readable PEM files (paths relative to the config file), or remove broker.tls for plain TCP.',
  },
  FM_ERR_CLOUD_ALERTS: {
    meaning: 'An alerts message (fm/g/<gateway>/alerts) is not valid (FORMAT.md §9): refused with a nack naming the field.',
    howToSolve: 'A gateway skips events refused repeatedly (counted as alertsSkipped); check the gateway version.',
  },
  FM_ERR_CLOUD_ADMIN_TOKENS: {
    meaning: 'The fleet admin token file (<dataDir>/fleet-admin-tokens.json) is malformed, or a token name is not 1-64 of [A-Za-z0-9_.@-].',
    howToSolve: 'Restore the file from backup, or remove it and issue new tokens with `fieldmesh cloud add-admin-token NAME`.',
  },
  FM_ERR_CLOUD_STORE: {
    meaning: 'A batch could not be committed to the cloud store (database down, disk full, constraint failure). It is not the batch\'s fault: no nack is sent, and the gateway resends after its ack timeout.',
    howToSolve: 'Check the cloud log for the store error and the database (SQLite file disk, or the PostgreSQL server); batches are stored once the store works again.',
  },
} as const;

export type CloudErrorCode = keyof typeof CLOUD_ERRORS;

export class CloudError extends codedErrorClass('CloudError', CLOUD_ERRORS) {}
