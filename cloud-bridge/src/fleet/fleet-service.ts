import { join } from 'node:path';
import type { Clock, Logger } from '@fieldmesh/device-sdk';
import type { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import type { ReportedState } from '@fieldmesh/protocol';
import type { CloudConfig } from '../config.js';
import { FleetAdminTokens, fleetAdminTokensFile } from './admin-tokens.js';
import { DesiredPublisher, type DesiredChannel } from './desired-publisher.js';
import { FleetAccess, type CredentialCheck } from './fleet-access.js';
import { BundleChunkServer, type ChunkLimits, type ChunkSend } from './bundle-chunks.js';
import { FleetRoutes } from './fleet-routes.js';
import { ReleaseLibrary } from './release-library.js';
import { RolloutRunner } from './rollout-runner.js';
import { entrySummary, scopeOf, type DesiredEntry, type DesiredTarget, type FleetStore, type StoredDesired } from './fleet-store.js';
import { ReportedIntake } from './reported-intake.js';
import { SqliteFleetStore } from './sqlite-fleet-store.js';

function fleetStoreFile(dataDir: string): string {
  return join(dataDir, 'fleet.sqlite');
}

/** Bundles over the uplink, for /metrics. */
export interface ChunkFigures {
  refused: Record<string, number>;
  bytesSent: number;
  chunksSent: number;
  inFlight: number;
}

/** Someone who wants to hear of every accepted report (the rollout runner). */
export type ReportListener = (gateway: string, reported: ReportedState) => void;

export interface FleetParts {
  library: ReleaseLibrary;
  rollouts: RolloutRunner;
  routes: FleetRoutes;
  adminTokens: FleetAdminTokens;
  /** Bundles over the uplink, for gateways without an HTTP credential (bundle-chunks.ts). */
  chunks: BundleChunkServer;
}

/**
 * The fleet component wired: store, desired publisher, reported intake, and (with `open`) the
 * release library, rollout runner and HTTP routes. The bridge's root hands it reported messages
 * and a channel to publish desired ones on; routes and rollouts change desired entries through
 * `setDesired`.
 */
export class FleetService {
  readonly publisher: DesiredPublisher;
  readonly intake: ReportedIntake;
  private readonly listeners: ReportListener[] = [];

  constructor(
    readonly store: FleetStore,
    channel: DesiredChannel,
    private readonly clock: Clock,
    private readonly logger: Logger,
    throttled: RateLimitedLog,
  ) {
    this.publisher = new DesiredPublisher(store, channel, clock, logger);
    this.intake = new ReportedIntake(store, clock, throttled, (gw, r, tagsChanged) => {
      // A new gateway, or one whose groups changed, may now have another effective entry.
      if (tagsChanged) this.publisher.refresh([gw]).catch((err: Error) => this.logger.error({ gateway: gw, err: err.message }, 'desired state not recomputed'));
      for (const l of this.listeners) {
        try {
          l(gw, r);
        } catch (err) {
          this.logger.error({ gateway: gw, err: (err as Error).message }, 'fleet report listener failed');
        }
      }
    });
  }

  parts: FleetParts | null = null;

  static open(opts: {
    dataDir: string;
    config: CloudConfig['fleet'];
    channel: DesiredChannel;
    clock: Clock;
    logger: Logger;
    throttled: RateLimitedLog;
    liveTokens: { verify(token: string | null | undefined): boolean };
    /** The broker's gateway credentials; null with `auth: none` (a lab: any gateway id downloads). */
    credentials: CredentialCheck | null;
    online: (id: string) => boolean;
    /** Publishes on a gateway's bundle chunk topic (QoS 1). */
    sendChunk: ChunkSend;
    chunkLimits?: ChunkLimits;
  }): FleetService {
    const logger = opts.logger.child({ component: 'fleet' });
    const fleet = new FleetService(new SqliteFleetStore(fleetStoreFile(opts.dataDir)), opts.channel, opts.clock, logger, opts.throttled);
    try {
      const library = new ReleaseLibrary(join(opts.dataDir, 'fleet'), fleet.store, opts.config.releaseKeys, opts.config.maxBundleBytes, opts.clock);
      const rollouts = new RolloutRunner(fleet, opts.clock, logger, opts.online);
      const adminTokens = new FleetAdminTokens(fleetAdminTokensFile(opts.dataDir));
      const access = new FleetAccess(adminTokens, opts.liveTokens, opts.credentials, opts.clock);
      // Asked for every chunk request: a release, once stored, never changes or goes, so it is
      // looked up in the store (a query and the envelope's JSON) once per version, not per chunk.
      const shelved = new Map<string, { bytes: number; file: string }>();
      const shelf = (version: string) => {
        let s = shelved.get(version);
        if (s === undefined) {
          const r = fleet.store.release(version);
          if (!r) return null;
          s = { bytes: r.envelope.body.bytes, file: library.bundle(version) };
          shelved.set(version, s);
        }
        return s;
      };
      const chunks = new BundleChunkServer(shelf, opts.sendChunk, logger, opts.chunkLimits);
      fleet.parts = { library, rollouts, adminTokens, chunks, routes: new FleetRoutes(fleet, library, rollouts, access, opts.online) };
    } catch (err) {
      fleet.close();
      throw err;
    }
    return fleet;
  }

  /** Puts the stored desired messages back on the broker (its retained messages do not survive a restart), and resumes a rollout. */
  async start(): Promise<void> {
    await this.publisher.republishAll();
    await this.parts?.rollouts.start();
  }

  /** The figures `/metrics` exposes (http/cloud-metrics.ts). */
  prometheusSource(): { reportedRefused: number; reportedThrottled: number; refusedHttp: Record<string, number>; published: number; bundleBytesSent: number; chunks: ChunkFigures } {
    return { reportedRefused: this.intake.stats.refused, reportedThrottled: this.intake.stats.throttled, refusedHttp: { ...this.parts?.routes.refused }, published: this.publisher.published, bundleBytesSent: this.parts?.routes.bundleBytesSent ?? 0, chunks: this.chunkFigures() };
  }

  metrics(): Record<string, unknown> {
    return { intake: { ...this.intake.stats }, published: this.publisher.published, publishFailed: this.publisher.failed, refusedHttp: { ...this.parts?.routes.refused }, bundleBytesSent: this.parts?.routes.bundleBytesSent ?? 0, chunks: this.chunkFigures() };
  }

  private chunkFigures(): ChunkFigures {
    const c = this.parts?.chunks;
    return { refused: { ...c?.refused }, bytesSent: c?.bytesSent ?? 0, chunksSent: c?.chunksSent ?? 0, inFlight: c?.inFlight ?? 0 };
  }

  onReport(l: ReportListener): void {
    this.listeners.push(l);
  }

  /** A `fm/g/<gw>/fleet/reported` message from gateway `gw`'s own connection. */
  reported(gateway: string, payload: Buffer): void {
    try {
      this.intake.receive(gateway, payload);
    } catch (err) {
      this.logger.error({ gateway, err: (err as Error).message }, 'fleet report not stored');
    }
  }

  /**
   * Stores a desired entry (the caller checked that its release and config exist) and publishes
   * the gateways whose effective desired state changed; returns them.
   */
  async setDesired(target: DesiredTarget, entry: DesiredEntry, by: string): Promise<{ entry: StoredDesired; changed: string[] }> {
    const scope = scopeOf(target);
    const stored = this.store.setDesired(scope, entry, this.clock.now(), by);
    this.store.addEvent({
      at: stored.setAt,
      gateway: 'gateway' in target ? target.gateway : null,
      kind: 'desired-set',
      detail: { scope, by, ...entrySummary(entry) },
    });
    if ('gateway' in target) this.store.touchGateway(target.gateway);
    const changed = await this.publisher.refresh('gateway' in target ? [target.gateway] : undefined);
    return { entry: stored, changed };
  }

  /** Removes an entry (a gateway then follows its groups or `all` again); returns the gateways whose desired state changed. */
  async clearDesired(target: DesiredTarget, by: string): Promise<string[]> {
    const scope = scopeOf(target);
    if (!this.store.deleteDesired(scope)) return [];
    this.store.addEvent({ at: this.clock.now(), gateway: 'gateway' in target ? target.gateway : null, kind: 'desired-cleared', detail: { scope, by } });
    return this.publisher.refresh('gateway' in target ? [target.gateway] : undefined);
  }

  close(): void {
    this.intake.close();
    this.parts?.rollouts.close();
    this.store.close();
  }
}
