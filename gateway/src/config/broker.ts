import { DEVICE_ID } from '@fieldmesh/device-sdk';
import { int, listOf, oneOf, section, str, type Check } from './checks.js';

/** The embedded MQTT broker devices publish to (gateway/INGEST.md). */
export interface BrokerConfig {
  /** TCP port. Default 1883 (IANA MQTT). 0 = any free port (tests; the gateway prints it). */
  port: number;
  /** Address to listen on. Default `0.0.0.0`: devices are on the LAN. */
  host: string;
  /**
   * `credentials` (default): each device logs in with its id as username and a generated
   * password. `none`: anyone may connect as any device id — a lab only.
   */
  auth: 'credentials' | 'none';
  /**
   * Device ids to hold credentials for; missing ones are generated at start and printed once.
   * Default none: `fieldmesh gateway add-device ID` adds one later (no invented device id).
   */
  devices: string[];
  /**
   * Largest MQTT packet accepted, in bytes, checked on the socket from the fixed header before
   * aedes buffers anything. Default 262,144 + 1,024: one SenML pack at its 256 KiB limit plus
   * topic and header. Larger declared packets close the connection.
   */
  maxPacketBytes: number;
  /** Ms a new connection may take to send CONNECT before it is closed. Default 10,000. */
  connectTimeoutMs: number;
  /**
   * Ms one packet may take from its first byte to its last before the connection is closed.
   * Default 60,000 (a full-size packet over a 5 kB/s link). 0 = no limit. Stops a client that
   * declares a large packet and trickles it to pin a buffer.
   */
  packetTimeoutMs: number;
  /** Concurrent connections; one more is closed at once. Default 1,000 (a Pi's file limits). */
  maxConnections: number;
  /**
   * Bytes a local app's connection (`fieldmesh gateway add-app`) may have waiting to be written
   * before it is cut off as too slow. Default 1 MiB: seconds of a busy gateway's readings; an
   * app further behind is not keeping up and would only grow the gateway's memory.
   */
  maxAppQueueBytes: number;
}

export const brokerDefaults: BrokerConfig = {
  port: 1883,
  host: '0.0.0.0',
  auth: 'credentials',
  devices: [],
  maxPacketBytes: 256 * 1024 + 1024,
  connectTimeoutMs: 10_000,
  packetTimeoutMs: 60_000,
  maxConnections: 1000,
  maxAppQueueBytes: 1024 * 1024,
};

export const checkBroker: Check<BrokerConfig> = section<BrokerConfig>(
  {
    port: int(0, 65535),
    host: str({ max: 255 }),
    auth: oneOf('credentials', 'none'),
    devices: listOf(str({ pattern: DEVICE_ID, hint: 'a device id (letters, digits, _ . -; up to 64)' }), 10_000),
    // 268,435,455 is MQTT's largest encodable remaining length (§2.2.3).
    maxPacketBytes: int(128, 268_435_455),
    connectTimeoutMs: int(100, 600_000),
    packetTimeoutMs: int(0, 3_600_000),
    maxConnections: int(1, 100_000),
    maxAppQueueBytes: int(16 * 1024, 256 * 1024 * 1024),
  },
  brokerDefaults,
);
