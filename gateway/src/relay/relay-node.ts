import type { Clock, Logger } from '@fieldmesh/device-sdk';
import type { ReadingLog } from '../store/reading-log.js';
import type { RelayCredentials } from './relay-channel.js';
import type { RelayPeers } from './relay-peers.js';
import { RelayRoute, type RelayRouteOptions, type RelayRouteStats } from './relay-route.js';
import { RelayServer, type RelayServerOptions, type RelayServingStats } from './relay-server.js';
import type { RelayUpstream } from './relay-upstream.js';

export interface RelayNodeOptions {
  selfId: string;
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
}

export interface RelayStatus {
  /** How our own data goes up: direct, through a peer (`via`), or waiting. */
  route: RelayRouteStats;
  /** What we carry for others (null when we do not serve). */
  serving: RelayServingStats | null;
}

/** Both halves of mesh-assisted delivery for one gateway: the route (ours) and the server (theirs). */
export class RelayNode {
  readonly route: RelayRoute;
  readonly server: RelayServer | null;

  constructor(private readonly opts: RelayNodeOptions) {
    const logger = opts.logger.child({ component: 'relay' });
    this.route = new RelayRoute({ selfId: opts.selfId, log: opts.log, uplinkOnline: opts.uplinkOnline, peers: opts.peers, credentials: opts.credentials, clock: opts.clock, logger, ...opts.route });
    this.server = opts.upstream ? new RelayServer({ selfId: opts.selfId, credentials: opts.credentials, upstream: opts.upstream, clock: opts.clock, logger, ...opts.serve }) : null;
  }

  /** Starts listening (when serving) and routing; returns the relay port (0 when not serving). */
  async start(): Promise<number> {
    const port = this.server ? await this.server.listen(this.opts.port, this.opts.host) : 0;
    this.route.start();
    return port;
  }

  notify(): void {
    this.route.notify();
  }

  status(): RelayStatus {
    return { route: this.route.snapshot(), serving: this.server?.snapshot() ?? null };
  }

  async stop(): Promise<void> {
    this.route.stop();
    await this.server?.stop();
  }
}
