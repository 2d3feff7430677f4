import { codedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of the uplink wire contract (batch codec, ack messages): what either end raises
 * on bytes that break FORMAT.md. Codes are stable and travel in nacks (`code`), so code branches
 * on `err.code`, never on the message text.
 */
export const protocolErrors = {
  FM_ERR_BATCH_KEY: {
    meaning: 'An origin signing key or public key is not base64 of 32 bytes (an Ed25519 seed or point).',
    howToSolve: 'Copy the key exactly as `fieldmesh cloud add-gateway` or the gateway printed it (44 characters of base64).',
  },
  FM_ERR_BATCH_TRUNCATED: {
    meaning: 'The batch ended before a field it announced.',
    howToSolve: 'The payload was cut short (packet size limit, broken writer). Check the broker packet cap against the uplink batch size.',
  },
  FM_ERR_BATCH_MAGIC: {
    meaning: 'The payload does not start with the batch magic "FMB".',
    howToSolve: 'Something other than a fieldmesh uplink published on fm/g/<gateway>/batch. Check the ACL and the publisher.',
  },
  FM_ERR_BATCH_VERSION: {
    meaning: 'The batch format version is not one this build decodes.',
    howToSolve: 'Upgrade the cloud bridge to a release that reads the gateway\'s format version (see protocol/src/FORMAT.md).',
  },
  FM_ERR_BATCH_CHECKSUM: {
    meaning: 'The CRC-32 trailer does not match the bytes: the batch was corrupted.',
    howToSolve: 'Nothing to do per batch: it is refused and the gateway resends it. Frequent checksum errors point at a broken link or proxy.',
  },
  FM_ERR_BATCH_MALFORMED: {
    meaning: 'The batch passed its checksum but a field is out of range or inconsistent.',
    howToSolve: 'A writer bug or a hostile sender. The gateway quarantines a batch the cloud keeps refusing; report the bytes with the issue.',
  },
  FM_ERR_BATCH_TOO_LARGE: {
    meaning: 'The batch announces more readings or more inflated bytes than the limits in FORMAT.md.',
    howToSolve: 'Lower uplink batch size on the gateway; the limits guard the cloud against zip bombs.',
  },
  FM_ERR_BATCH_UNENCODABLE: {
    meaning: 'A reading cannot be put into a batch (timestamp out of range, bad value type, sequence not increasing).',
    howToSolve: 'The reading log holds a reading the ingest should have refused; the uplink quarantines it and goes on.',
  },
  FM_ERR_ACK_MALFORMED: {
    meaning: 'A message on fm/g/<gateway>/ack is not a valid ack or nack.',
    howToSolve: 'Check that only the cloud bridge may publish acks (broker ACL).',
  },
} as const;

export type ProtocolErrorCode = keyof typeof protocolErrors;

/** Raised by the batch and ack codecs; `code` is one of `protocolErrors`. */
export class ProtocolError extends codedErrorClass('ProtocolError', protocolErrors) {}
