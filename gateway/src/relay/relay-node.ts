import type { BatchSign } from '@fieldmesh/protocol';
import type { Clock, Logger, Reading } from '@fieldmesh/device-sdk';
import type { ReadingLog } from '../store/reading-log.js';
import type { RelayCredentials } from './relay-channel.js';
import type { RelayPeers } from './relay-peers.js';
import { RelayRoute, type RelayRouteOptions, type RelayRouteStats } from './relay-route.js';
import { RelayServer, type RelayServerOptions, type RelayServingStats } from './relay-server.js';
import type { RelayUpstream } from './relay-upstream.js';
import { ReplicaKeeper, type ReplicaKeeperStats } from './replica-keeper.js';
import { SqliteReplicaStore } from './replica-store.js';
import { Replicator, type ReplicationStats } from './replicator.js';

export interface RelayNodeOptions {
  selfId: string;
  /** Signs this gateway's batches as their origin, relayed or replicated alike. */
  sign?: BatchSign;
  log: ReadingLog;
  uplinkOnline: () => boolean;
  peers: RelayPeers;
  credentials: RelayCredentials;
  /** Null: this gateway has no uplink to offer, so it only uses relays, never serves. */
  upstream: RelayUpstream | null;
  /** TCP port the relay listens on (0: any free port, announced in the mesh metadata). */
  port: number;
  host: string;
  clock: Clock;
  logger: Logger;
  route?: Partial<Pick<RelayRouteOptions, 'afterMs' | 'window' | 'batchReadings' | 'ackTimeoutMs' | 'peerBackoffMs' | 'tickMs'>>;
  serve?: Partial<Pick<RelayServerOptions, 'window' | 'maxOrigins' | 'maxQueuedPerOrigin' | 'ackTimeoutMs'>>;
  /** Backlog replication (RELAY.md §7); absent: off. */
  replication?: {
    /** Buddies per origin (default 1; 0: do not replicate our log, but still keep others'). */
    k?: number;
    /** SQLite file for the replicas this gateway keeps for others. */
    storeFile: string;
    /** ms an origin must be dead before its replica is uploaded. Default 30000. */
    deadAfterMs?: number;
    tickMs?: number;
    window?: number;
    batchReadings?: number;
    recentReadings?: number;
  };
}

export interface RelayStatus {
  /** How our own data goes up: direct, through a peer (`via`), or waiting. */
  route: RelayRouteStats;
  /** What we carry for others (null when we do not serve). */
  serving: RelayServingStats | null;
  /** How far our unacknowledged tail is copied to buddies (null when replication is off). */
  replication: ReplicationStats | null;
  /** The replicas we keep for others. */
  replicas: ReplicaKeeperStats | null;
  /** Connections and frames the relay port refused, by reason (whether or not we serve). */
  refused: Record<string, number>;
}

/** Both halves of mesh-assisted delivery for one gateway: the route (ours) and the server (theirs). */
export class RelayNode {
  readonly route: RelayRoute;
  readonly server: RelayServer;
  readonly replicator: Replicator | null = null;
  readonly keeper: ReplicaKeeper | null = null;
  private readonly replicaStore: SqliteReplicaStore | null = null;

  constructor(private readonly opts: RelayNodeOptions) {
    const logger = opts.logger.child({ component: 'relay' });
    this.route = new RelayRoute({ selfId: opts.selfId, log: opts.log, uplinkOnline: opts.uplinkOnline, peers: opts.peers, credentials: opts.credentials, clock: opts.clock, logger, ...opts.route, ...(opts.sign ? { sign: opts.sign } : {}) });
    this.server = new RelayServer({ selfId: opts.selfId, credentials: opts.credentials, upstream: opts.upstream, clock: opts.clock, logger, ...opts.serve });
    const r = opts.replication;
    if (r) {
      const rlog = opts.logger.child({ component: 'replication' });
      this.replicaStore = new SqliteReplicaStore(r.storeFile, opts.clock);
      this.keeper = new ReplicaKeeper({ store: this.replicaStore, server: this.server, peers: opts.peers, clock: opts.clock, logger: rlog, ...(r.deadAfterMs !== undefined ? { deadAfterMs: r.deadAfterMs } : {}), ...(r.tickMs ? { tickMs: r.tickMs } : {}) });
      this.replicator = new Replicator({
        selfId: opts.selfId,
        ...(opts.sign ? { sign: opts.sign } : {}),
        log: opts.log,
        peers: opts.peers,
        credentials: opts.credentials,
        clock: opts.clock,
        logger: rlog,
        k: r.k ?? 1,
        ...(r.tickMs ? { tickMs: r.tickMs } : {}),
        ...(r.window ? { window: r.window } : {}),
        ...(r.batchReadings ? { batchReadings: r.batchReadings } : {}),
        ...(r.recentReadings !== undefined ? { recentReadings: r.recentReadings } : {}),
      });
    }
  }

  /** Starts listening, routing and replicating; returns the relay port (announce it in the mesh metadata). */
  async start(): Promise<number> {
    const port = await this.server.listen(this.opts.port, this.opts.host);
    this.route.start();
    this.keeper?.start();
    this.replicator?.start();
    return port;
  }

  /** After each commit; with the committed batch, replication skips reading it back from the log. */
  notify(batch?: { firstSeq: number; lastSeq: number; readings: readonly Reading[] }): void {
    this.route.notify();
    this.replicator?.notify(batch);
  }

  status(): RelayStatus {
    return {
      route: this.route.snapshot(),
      serving: this.opts.upstream ? this.server.snapshot() : null,
      replication: this.replicator?.snapshot() ?? null,
      replicas: this.keeper?.snapshot() ?? null,
      refused: { ...this.server.stats.refused },
    };
  }

  async stop(): Promise<void> {
    this.route.stop();
    this.replicator?.stop();
    this.keeper?.stop();
    await this.server.stop();
    this.replicaStore?.close();
  }
}
