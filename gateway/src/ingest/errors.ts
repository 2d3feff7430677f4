/**
 * Why the ingest path refused something. Each reason is a metric label
 * (`fieldmesh_ingest_rejected_total{reason=…}`) and, for a refused publish, the `reason` of the
 * rejection notice on `fm/d/<device>/rejected` (INGEST.md). Stable: dashboards rely on them.
 */
export const REJECT_REASONS = {
  malformed_senml: { code: 'FM_ERR_INGEST_SENML', solve: 'Fix the SenML pack; the notice carries the codec error (device-sdk/SENML.md).' },
  bad_value: { code: 'FM_ERR_INGEST_VALUE', solve: 'A bare value must be a JSON number, true/false or a JSON string in quotes, at most 1024 characters.' },
  bad_topic: { code: 'FM_ERR_INGEST_TOPIC', solve: 'Publish on fm/d/<your id>/senml or fm/d/<your id>/<sensor> with a valid sensor name; `rejected` is reserved.' },
  forbidden_topic: { code: 'FM_ERR_INGEST_FORBIDDEN', solve: 'A device may publish only under fm/d/<its own id>/; use the id you log in with.' },
  packet_too_large: { code: 'FM_ERR_INGEST_PACKET_TOO_LARGE', solve: 'Keep MQTT packets under broker.maxPacketBytes; split large SenML packs.' },
  slow_packet: { code: 'FM_ERR_INGEST_SLOW_PACKET', solve: 'A packet took longer than broker.packetTimeoutMs from first to last byte; the connection was closed. Check the link, or raise the limit for very slow links.' },
  connect_timeout: { code: 'FM_ERR_INGEST_CONNECT_TIMEOUT', solve: 'Send CONNECT right after opening the connection (within broker.connectTimeoutMs).' },
  too_many_connections: { code: 'FM_ERR_INGEST_CONNECTIONS', solve: 'Too many devices are connected at once; raise broker.maxConnections or find a client that leaks connections.' },
  bad_credentials: { code: 'FM_ERR_INGEST_AUTH', solve: 'Log in with username = device id and the password printed when its credentials were created; anonymous is refused unless broker.auth is none.' },
  store_failed: { code: 'FM_ERR_INGEST_STORE', solve: 'The reading log could not commit (disk full or failing). Nothing was acknowledged; the device resends. Check the data directory disk.' },
} as const;

export type RejectReason = keyof typeof REJECT_REASONS;

/** A refusal with its reason; `message` names the bad input. Nothing of it was stored. */
export class IngestError extends Error {
  override name = 'IngestError';
  readonly code: string;
  constructor(
    readonly reason: RejectReason,
    detail: string,
  ) {
    super(`${detail} (${REJECT_REASONS[reason].code}: ${REJECT_REASONS[reason].solve})`);
    this.code = REJECT_REASONS[reason].code;
  }
}

/** Errors of starting the broker (construction throws; loops only count and log). */
export const BROKER_ERRORS = {
  FM_ERR_BROKER_LISTEN: 'The broker port is taken or not permitted. Stop the other MQTT broker (mosquitto?) or set broker.port to a free port (ports < 1024 need root).',
  FM_ERR_BROKER_CREDENTIALS: 'The device credentials file in dataDir is unreadable or corrupt. Restore it from backup, or move it away to generate new credentials (devices then need the new passwords).',
} as const;

export class BrokerError extends Error {
  override name = 'BrokerError';
  constructor(
    readonly code: keyof typeof BROKER_ERRORS,
    detail: string,
  ) {
    super(`${detail} (${code}: ${BROKER_ERRORS[code]})`);
  }
}
