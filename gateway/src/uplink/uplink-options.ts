import type { Clock, Logger } from '@fieldmesh/device-sdk';
import type { BatchSign } from '@fieldmesh/protocol';
import type { AlertOutbox } from '../alerts/log.js';
import type { ReadingLog } from '../store/reading-log.js';
import { UplinkError } from './errors.js';
import { StateSeries } from './state-compaction.js';
import type { LinkTls, UplinkLink } from './uplink-link.js';

export interface UplinkOptions {
  gatewayId: string;
  log: ReadingLog;
  /** `mqtt://host:port` (or mqtts://) of the cloud broker. */
  url: string;
  username?: string;
  password?: string;
  clock?: Clock;
  logger?: Logger;
  /** Extra fields for the retained status message (members, dropped counts…). */
  status?: () => object;
  /** Readings per batch at most. Default 5000: a few kB on the wire for slow series, well inside any packet cap. */
  batchReadings?: number;
  /** Bytes per batch at most; a larger batch is split. Default 1 MiB (the cloud's cap defaults to 8 MiB). */
  maxBatchBytes?: number;
  /**
   * Ceiling of the adaptive send window, in batches published and not yet acked. Default 16
   * (mqtt.js warns past ~1000 in flight). The window starts at min(4, this) and adapts (AIMD,
   * send-window.ts).
   */
  maxInFlight?: number;
  /** Bytes per second at most on the link (batches and alerts), for metered links. 0 (default): no cap. */
  maxBytesPerSecond?: number;
  /** Alerts and events to send ahead of bulk readings (the AlertOutbox of gateway/src/alerts/). */
  alerts?: AlertOutbox;
  /**
   * Priority (alert) messages sent at most per bulk batch while bulk readings wait, so a storm of
   * alerts cannot starve the backlog. Default 4.
   */
  priorityShare?: number;
  /** State series patterns (`device/sensor`, `*` = one level): only their newest value goes (state-compaction.ts). Default none. */
  stateSeries?: readonly string[];
  /** Milliseconds to wait for the cloud's ack before resending a batch. Default 30000. */
  ackTimeoutMs?: number;
  /** Refusals (nacks) of a one-reading batch before it is quarantined (larger ones are split first). Default 5. */
  maxRefusals?: number;
  /**
   * Reconnect backoff bounds, ms. Defaults 500 and 10000. The drain starts on the reconnect
   * itself, so `backoffMaxMs` is the worst-case delay between the cloud coming back and data
   * flowing (Azure IoT Edge's 60 s backoff made a 120 s outage take 53 s more to drain).
   */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Status refresh period, ms. Default 15000. */
  statusIntervalMs?: number;
  /** Randomness for the backoff jitter (tests pin it). */
  random?: () => number;
  /** The transport; default MQTT to `url` (MqttUplinkLink). Tests pass an in-memory link. */
  link?: UplinkLink;
  /** TLS material for an mqtts:// url (server CA, client certificate and key). */
  tls?: LinkTls;
  /** Signs every batch with this gateway's origin key (protocol/src/batch-signature.ts); absent: unsigned. */
  sign?: BatchSign;
}

/** The options with every defaulted key filled in. */
export type ResolvedUplinkOptions = Required<
  Omit<UplinkOptions, 'username' | 'password' | 'status' | 'clock' | 'logger' | 'random' | 'link' | 'alerts' | 'tls' | 'sign'>
> &
  UplinkOptions;

const DEFAULTS = {
  batchReadings: 5000,
  maxBatchBytes: 1024 * 1024,
  maxInFlight: 16,
  maxBytesPerSecond: 0,
  priorityShare: 4,
  stateSeries: [] as readonly string[],
  ackTimeoutMs: 30_000,
  maxRefusals: 5,
  backoffMinMs: 500,
  backoffMaxMs: 10_000,
  statusIntervalMs: 15_000,
};

/**
 * Fills in the defaults and checks every key once, at construction (construction throws
 * FM_ERR_UPLINK_CONFIG naming the key; the running uplink never does). Also compiles the state
 * series patterns, whose syntax errors are config errors too.
 */
export function resolveUplinkOptions(opts: UplinkOptions): { o: ResolvedUplinkOptions; stateSeries: StateSeries } {
  if (!/^(mqtts?|tcp|tls|wss?):\/\/[^/]+/.test(opts.url)) {
    throw new UplinkError('FM_ERR_UPLINK_CONFIG', `uplink.url ${JSON.stringify(opts.url)} must look like mqtt://host:port`);
  }
  if (!opts.gatewayId) throw new UplinkError('FM_ERR_UPLINK_CONFIG', 'gatewayId is empty');
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as ResolvedUplinkOptions;
  for (const key of ['batchReadings', 'maxBatchBytes', 'maxInFlight', 'ackTimeoutMs', 'maxRefusals', 'backoffMinMs', 'backoffMaxMs', 'statusIntervalMs'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new UplinkError('FM_ERR_UPLINK_CONFIG', `${key} must be a positive integer, got ${String(o[key])}`);
  }
  if (!Number.isFinite(o.maxBytesPerSecond) || o.maxBytesPerSecond < 0) {
    throw new UplinkError('FM_ERR_UPLINK_CONFIG', `maxBytesPerSecond must be 0 (no cap) or a positive number, got ${String(o.maxBytesPerSecond)}`);
  }
  if (!Number.isInteger(o.priorityShare) || o.priorityShare < 1) throw new UplinkError('FM_ERR_UPLINK_CONFIG', `priorityShare must be a positive integer, got ${String(o.priorityShare)}`);
  let stateSeries: StateSeries;
  try {
    stateSeries = new StateSeries(o.stateSeries);
  } catch (err) {
    throw new UplinkError('FM_ERR_UPLINK_CONFIG', `uplink.stateSeries: ${(err as Error).message}`);
  }
  return { o, stateSeries };
}
