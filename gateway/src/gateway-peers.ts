import type { Clock, Logger } from '@fieldmesh/device-sdk';
import type { BatchSign } from '@fieldmesh/protocol';
import type { GatewayConfig } from './config/gateway-config.js';
import type { HttpApi } from './http/server.js';
import type { MetricsRegistry } from './metrics/prometheus.js';
import type { MemberView, Mesh } from './mesh/mesh.js';
import { startGatewayMesh, uplinkMetaState } from './mesh/gateway-mesh.js';
import type { RelayNode } from './relay/relay-node.js';
import { relayMetricFamilies } from './relay/relay-metrics.js';
import { relayMetaTags } from './relay/relay-peers.js';
import type { Backlog, ReadingLog } from './store/reading-log.js';
import { startGatewayRelay } from './gateway-relay.js';
import { GATEWAY_VERSION } from './version.js';

export interface GatewayPeersDeps {
  config: Readonly<GatewayConfig>;
  metrics: MetricsRegistry;
  /** The uplink's state: `none` without one. */
  uplinkState: () => string;
  /** The reading log's backlog, once the log is open. */
  backlog: () => Backlog | undefined;
  mdnsSocket?: { interface?: string; bind?: string };
  clock: Clock;
  logger: Logger;
}

/**
 * The gateway among the site's other gateways: mesh membership (GET /api/members), and the relay
 * that delivers through a peer whose uplink works (gateway-relay.ts). The two meet here: the relay
 * finds its peers in the mesh's member list, and the mesh gossips where this relay listens.
 * Each is off without its config (`mesh.key`; `relay.enabled` and `mesh.key`).
 */
export class GatewayPeers {
  private relay: RelayNode | null = null;
  private relayPort = 0;
  private meshMembers: () => MemberView[] = () => [];
  private meshMember: Mesh | null = null;

  constructor(private readonly d: GatewayPeersDeps) {}

  /** Starts the relay, then the mesh (whose metadata announces the relay's port). */
  async start(p: { log: ReadingLog; sign?: BatchSign; mqttPort: number; http: HttpApi }): Promise<void> {
    await this.startRelay(p.log, p.sign);
    this.meshMember = await startGatewayMesh({
      id: this.d.config.id,
      mqttPort: p.mqttPort,
      config: this.d.config.mesh,
      http: p.http,
      metrics: this.d.metrics,
      meta: () => this.meshMeta(),
      clock: this.d.clock,
      logger: this.d.logger,
      ...(this.d.mdnsSocket ? { mdnsSocket: this.d.mdnsSocket } : {}),
    });
    if (this.meshMember) {
      const mesh = this.meshMember;
      this.useMeshForRelay(() => mesh.members());
    }
  }

  /** The mesh first: peers hear this gateway leave before its relay stops answering. */
  async stop(): Promise<void> {
    await this.meshMember?.stop();
    this.meshMember = null;
    await this.relay?.stop();
    this.relay = null;
  }

  /** Where the relay finds peers; until called the relay knows none (and only delivers directly). */
  useMeshForRelay(members: () => MemberView[]): void {
    this.meshMembers = members;
  }

  /** Tags to merge into this gateway's mesh metadata so peers find its relay ({} when not serving). */
  relayMetaTags(): Record<string, string> {
    return this.relayPort > 0 ? relayMetaTags(this.relayPort) : {};
  }

  get mesh(): Mesh | null {
    return this.meshMember;
  }

  /** A committed batch: the relay may have readings to route. */
  notifyRelay(batch: Parameters<RelayNode['notify']>[0]): void {
    this.relay?.notify(batch);
  }

  relayStatus(): ReturnType<RelayNode['status']> | null {
    return this.relay?.status() ?? null;
  }

  /**
   * Live mesh members for the retained status (the cloud's fleet view), at most 64 ids so the
   * status message stays small at a site with many gateways; null when the mesh is off.
   */
  memberIds(): string[] | null {
    if (!this.meshMember) return null;
    return this.meshMembers()
      .filter((m) => m.state === 'alive' || m.state === 'suspect')
      .map((m) => m.id)
      .slice(0, 64);
  }

  private async startRelay(log: ReadingLog, sign: BatchSign | undefined): Promise<void> {
    const started = await startGatewayRelay({
      config: this.d.config,
      log,
      uplinkOnline: () => this.d.uplinkState() === 'online',
      members: () => this.meshMembers(),
      ...(sign ? { sign } : {}),
      clock: this.d.clock,
      logger: this.d.logger,
    });
    if (!started) return;
    this.relay = started.relay;
    this.relayPort = started.port;
    this.d.metrics.register(() => (this.relay ? relayMetricFamilies(this.relay.status()) : []));
  }

  /** What peers learn about this gateway: the relay picks a peer whose uplink works. */
  private meshMeta() {
    const backlog = this.d.backlog();
    const oldest = backlog?.oldestUnsentTs ?? null;
    return {
      role: 'gateway',
      version: GATEWAY_VERSION,
      uplink: uplinkMetaState(this.d.uplinkState()),
      backlog: backlog?.readings ?? 0,
      oldestUnsentAgeS: oldest === null ? 0 : Math.max(0, Math.round((this.d.clock.now() - oldest) / 1000)),
      tags: this.relayMetaTags(),
    };
  }
}
