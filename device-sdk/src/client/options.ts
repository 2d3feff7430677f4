/**
 * DeviceClient options: one type, defaults in one object, validated once at construction
 * (defaults in one place). Every limit says why it is what it is.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { isDeviceId } from '../reading.js';
import { DeviceClientError } from './errors.js';
import type { MdnsOptions, GatewayDiscovery } from './discovery.js';
import type { OfflineBuffer } from './offline-buffer.js';

export interface DeviceClientOptions {
  /** Device id: the MQTT client id and username; series are `<device>/<sensor>`. Required. */
  device: string;
  /** The password the gateway generated for this device; omit for a gateway with `auth: none`. */
  password?: string;
  /**
   * Where the gateway is: `mqtt://host:1883` (or `mqtts://`), `"mdns"` to find one on the local
   * link, `{ mdns: {...} }` with discovery options, or your own GatewayDiscovery. Required.
   */
  gateway: string | { mdns: MdnsOptions } | GatewayDiscovery;
  /**
   * Offline buffer: `{ file: PATH }` for one that survives a restart, `{ maxMessages, maxBytes }`
   * for one in memory (the default), or an OfflineBuffer of your own.
   */
  buffer?: { file?: string; maxMessages?: number; maxBytes?: number; fsync?: boolean } | OfflineBuffer;
  /**
   * Messages sent and not yet acknowledged, at most. Default 32: enough to fill a LAN round trip
   * at bridge rates, well under mqtt.js's MaxListenersExceededWarning at ~1000 in flight.
   */
  maxInFlight?: number;
  /** Reconnect backoff, ms: first retry after `initialMs` (default 500), doubling up to `maxMs` (default 30 000). */
  reconnect?: { initialMs?: number; maxMs?: number };
  /** MQTT keepalive, s. Default 30: a dead link is noticed within ~45 s. 0 disables it. */
  keepaliveS?: number;
  /** ms to wait for CONNACK. Default 10 000. */
  connectTimeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
}

export const CLIENT_DEFAULTS = {
  maxInFlight: 32,
  reconnect: { initialMs: 500, maxMs: 30_000 },
  keepaliveS: 30,
  connectTimeoutMs: 10_000,
} as const;

const KNOWN = new Set(['device', 'password', 'gateway', 'buffer', 'maxInFlight', 'reconnect', 'keepaliveS', 'connectTimeoutMs', 'clock', 'logger']);

function fail(key: string, why: string): never {
  throw new DeviceClientError('FM_ERR_CLIENT_CONFIG', `option ${key}: ${why}`);
}

function intIn(key: string, v: unknown, min: number, max: number): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) fail(key, `${JSON.stringify(v)} is not an integer ${min}…${max}`);
}

export function checkClientOptions(o: DeviceClientOptions): void {
  if (o === null || typeof o !== 'object') fail('(options)', 'pass an object');
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) fail(k, `unknown option; known: ${[...KNOWN].join(', ')}`);
  if (typeof o.device !== 'string' || !isDeviceId(o.device)) fail('device', `${JSON.stringify(o.device)} is not a device id ([A-Za-z0-9][A-Za-z0-9_.-]{0,63})`);
  if (o.password !== undefined && typeof o.password !== 'string') fail('password', 'must be a string');
  const g = o.gateway;
  if (typeof g === 'string') {
    if (g !== 'mdns' && !/^(mqtts?|wss?|tcp|tls):\/\/[^\s/]+/.test(g)) fail('gateway', `${JSON.stringify(g)} is not "mdns" or a URL like mqtt://gateway.local:1883`);
  } else if (!g || typeof g !== 'object' || !('mdns' in g || typeof (g as GatewayDiscovery).find === 'function')) {
    fail('gateway', 'give a URL, "mdns", { mdns: {...} } or a GatewayDiscovery');
  }
  intIn('maxInFlight', o.maxInFlight, 1, 1000);
  intIn('reconnect.initialMs', o.reconnect?.initialMs, 1, 3_600_000);
  intIn('reconnect.maxMs', o.reconnect?.maxMs, 1, 3_600_000);
  intIn('keepaliveS', o.keepaliveS, 0, 65_535);
  intIn('connectTimeoutMs', o.connectTimeoutMs, 1, 600_000);
  const b = o.buffer as Record<string, unknown> | undefined;
  if (b && typeof b.push !== 'function') {
    intIn('buffer.maxMessages', b.maxMessages, 1, 100_000_000);
    intIn('buffer.maxBytes', b.maxBytes, 1024, Number.MAX_SAFE_INTEGER);
    if (b.file !== undefined && (typeof b.file !== 'string' || b.file === '')) fail('buffer.file', 'must be a file path');
  }
}
