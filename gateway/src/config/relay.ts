import { bool, int, nullable, section, str, type Check } from './checks.js';

/**
 * Mesh-assisted delivery (gateway/src/relay/RELAY.md). Needs `mesh.key`: the relay channel is
 * sealed with the cluster key, and peers are found through the mesh's gossip.
 */
export interface RelayConfig {
  /** Deliver through a peer while our uplink is down, and carry peers' data while ours is up. Default true (with a mesh key). */
  enabled: boolean;
  /**
   * TCP port of this gateway's relay. Default 0: any free port, announced to peers in this
   * gateway's mesh metadata (tag `relay`), so several gateways share a host without setup; set a
   * fixed port for a firewall.
   */
  port: number;
  /**
   * Address the relay listens on. Default null: the mesh's bind address (`mesh.bind`), so a
   * gateway whose mesh stays on one interface does not open its relay port on every other.
   */
  host: string | null;
  /** ms our uplink must be down before we relay through a peer. Default 3000: a brief reconnect is not worth a detour. */
  afterMs: number;
  /** Our batches in flight through a relay, unacked. Default 4. */
  window: number;
  /** Readings per relayed batch at most. Default 2000. */
  batchReadings: number;
  /** ms without an ack through a relay before it is given up for another. Default 15000. */
  ackTimeoutMs: number;
  /**
   * Other gateways' batches this gateway keeps in flight upstream, all origins together. Default
   * 4 (our own uplink keeps up to 16): the relay's own data keeps most of the link.
   */
  serveWindow: number;
  /** Origins this gateway carries at once. Default 8. */
  maxOrigins: number;
  /**
   * Buddies that keep a copy of this gateway's unacknowledged log tail (rendezvous hashing over
   * live members). Default 1; 0 = do not replicate our log (we still keep replicas for others).
   */
  replicas: number;
  /**
   * ms an origin must have been dead (gone from the mesh) before a buddy uploads its replica.
   * Default 60000: longer than a reboot's absence is wasted delay, shorter uploads data the
   * origin will send itself in a moment (harmless: the cloud dedupes, it only costs the link).
   */
  deadAfterMs: number;
  /**
   * Readings of our freshest commits kept in memory (by reference) to feed buddies that keep up,
   * instead of reading them back from the log. Default 50000 (about 5 MiB of heap at most, only
   * while replication lags); 0 = keep none, every batch is read back from SQLite. A cache bound
   * for small boards.
   */
  recentReadings: number;
}

export const relayDefaults: RelayConfig = {
  enabled: true,
  port: 0,
  host: null,
  afterMs: 3000,
  window: 4,
  batchReadings: 2000,
  ackTimeoutMs: 15_000,
  serveWindow: 4,
  maxOrigins: 8,
  replicas: 1,
  deadAfterMs: 60_000,
  recentReadings: 50_000,
};

export const checkRelay: Check<RelayConfig> = section<RelayConfig>(
  {
    enabled: bool,
    port: int(0, 65535),
    host: nullable(str({ max: 255 })),
    afterMs: int(0, 3_600_000),
    window: int(1, 64),
    batchReadings: int(1, 5000),
    ackTimeoutMs: int(1000, 600_000),
    serveWindow: int(1, 64),
    maxOrigins: int(1, 1000),
    replicas: int(0, 8),
    deadAfterMs: int(0, 7 * 86_400_000),
    recentReadings: int(0, 10_000_000),
  },
  relayDefaults,
);
