import { CodedError, codedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of the ingest path: why a device's input was refused. Nothing of a refused input
 * is stored; each is counted by reason (below) and, for a refused publish, named in the notice on
 * `fm/d/<device>/rejected` (INGEST.md).
 */
export const INGEST_ERRORS = {
  FM_ERR_INGEST_SENML: {
    meaning: 'A SenML pack could not be decoded, or its device sequence number is malformed.',
    howToSolve: 'Fix the SenML pack; the notice carries the codec error (device-sdk/SENML.md).',
  },
  FM_ERR_INGEST_VALUE: {
    meaning: 'A value, timestamp or unit is not one the reading log stores.',
    howToSolve: 'A bare value must be a JSON number, true/false or a JSON string in quotes, at most 1024 characters.',
  },
  FM_ERR_INGEST_TIME: {
    meaning: 'A reading time is beyond what the uplink can carry (|ts| ≥ 2^48 ms, about the year 10889): it would be stored, acknowledged, then never delivered.',
    howToSolve: 'Send times in seconds since the epoch (SenML bt/t), not milliseconds or microseconds, or leave them out to use the gateway clock.',
  },
  FM_ERR_INGEST_TOPIC: {
    meaning: 'The topic is not a device topic with a valid device id and sensor name.',
    howToSolve: 'Publish on fm/d/<your id>/senml or fm/d/<your id>/<sensor> with a valid sensor name; `rejected` is reserved.',
  },
  FM_ERR_INGEST_FORBIDDEN: {
    meaning: 'A device published under another device\'s topic.',
    howToSolve: 'A device may publish only under fm/d/<its own id>/; use the id you log in with.',
  },
  FM_ERR_INGEST_PACKET_TOO_LARGE: {
    meaning: 'An MQTT packet is larger than broker.maxPacketBytes; the connection was closed.',
    howToSolve: 'Keep MQTT packets under broker.maxPacketBytes; split large SenML packs.',
  },
  FM_ERR_INGEST_SLOW_PACKET: {
    meaning: 'A packet took longer than broker.packetTimeoutMs from first to last byte; the connection was closed.',
    howToSolve: 'Check the link, or raise the limit for very slow links.',
  },
  FM_ERR_INGEST_CONNECT_TIMEOUT: {
    meaning: 'A connection sent no CONNECT within broker.connectTimeoutMs and was closed.',
    howToSolve: 'Send CONNECT right after opening the connection (within broker.connectTimeoutMs).',
  },
  FM_ERR_INGEST_CONNECTIONS: {
    meaning: 'Too many devices are connected at once; the new connection was refused.',
    howToSolve: 'Raise broker.maxConnections or find a client that leaks connections.',
  },
  FM_ERR_INGEST_AUTH: {
    meaning: 'A device logged in with an unknown id or a wrong password, or anonymously.',
    howToSolve: 'Log in with username = device id and the password printed when its credentials were created; anonymous is refused unless broker.auth is none.',
  },
  FM_ERR_INGEST_APP_PUBLISH: {
    meaning: 'An app credential (app:<id>) tried to publish; apps are read-only. The connection was closed.',
    howToSolve: 'Publish as a device with its own credentials; an app may only subscribe.',
  },
  FM_ERR_INGEST_APP_SUBSCRIBE: {
    meaning: "An app subscribed outside its read patterns; the SUBACK said failure (0x80).",
    howToSolve: 'Subscribe under fm/r/ within the patterns, or re-issue the app with `fieldmesh gateway add-app ID --rotate --read PATTERN`.',
  },
  FM_ERR_INGEST_SLOW_CONSUMER: {
    meaning: 'An app stopped reading and its unsent messages passed the limit; it was disconnected.',
    howToSolve: 'Make the consumer keep up, or subscribe to fewer series.',
  },
  FM_ERR_INGEST_STORE: {
    meaning: 'The reading log could not commit (disk full or failing). Nothing was acknowledged; the device resends.',
    howToSolve: 'Check the data directory disk.',
  },
} as const;

export type IngestErrorCode = keyof typeof INGEST_ERRORS;

/**
 * Why the ingest path refused something, and its code. Each reason is a metric label
 * (`fieldmesh_ingest_rejected_total{reason=…}`) and, for a refused publish, the `reason` of the
 * rejection notice on `fm/d/<device>/rejected` (INGEST.md). Stable: dashboards rely on them.
 */
export const REJECT_REASONS = {
  malformed_senml: 'FM_ERR_INGEST_SENML',
  bad_value: 'FM_ERR_INGEST_VALUE',
  bad_time: 'FM_ERR_INGEST_TIME',
  bad_topic: 'FM_ERR_INGEST_TOPIC',
  forbidden_topic: 'FM_ERR_INGEST_FORBIDDEN',
  packet_too_large: 'FM_ERR_INGEST_PACKET_TOO_LARGE',
  slow_packet: 'FM_ERR_INGEST_SLOW_PACKET',
  connect_timeout: 'FM_ERR_INGEST_CONNECT_TIMEOUT',
  too_many_connections: 'FM_ERR_INGEST_CONNECTIONS',
  bad_credentials: 'FM_ERR_INGEST_AUTH',
  app_publish: 'FM_ERR_INGEST_APP_PUBLISH',
  app_subscribe: 'FM_ERR_INGEST_APP_SUBSCRIBE',
  slow_consumer: 'FM_ERR_INGEST_SLOW_CONSUMER',
  store_failed: 'FM_ERR_INGEST_STORE',
} as const satisfies Record<string, IngestErrorCode>;

export type RejectReason = keyof typeof REJECT_REASONS;

/** A refusal with its reason; `message` names the bad input. Nothing of it was stored. */
export class IngestError extends CodedError<IngestErrorCode> {
  constructor(
    readonly reason: RejectReason,
    detail: string,
  ) {
    super(REJECT_REASONS[reason], INGEST_ERRORS, detail);
    this.name = 'IngestError';
  }
}

/** Errors of starting the broker (construction throws; a running broker logs and counts instead). */
export const BROKER_ERRORS = {
  FM_ERR_BROKER_LISTEN: {
    meaning: 'The broker port is taken or not permitted.',
    howToSolve: 'Stop the other MQTT broker (mosquitto?) or set broker.port to a free port (ports < 1024 need root).',
  },
  FM_ERR_BROKER_CREDENTIALS: {
    meaning: 'A credentials file in dataDir (devices.json, apps.json) is unreadable, empty, cut off or corrupt; the gateway does not start, and while running keeps its last good copy for logins but refuses changes.',
    howToSolve: 'Restore it from backup; or move it away and issue new credentials (`fieldmesh gateway add-device ID`, or the new passwords printed at the next start for broker.devices), and give each device its new password.',
  },
} as const;

export type BrokerErrorCode = keyof typeof BROKER_ERRORS;

export class BrokerError extends codedErrorClass('BrokerError', BROKER_ERRORS) {}
