import { join } from 'node:path';
import type { Clock, Logger } from '@fieldmesh/device-sdk';
import type { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import type { ReportedState } from '@fieldmesh/protocol';
import { DesiredPublisher, type DesiredChannel } from './desired-publisher.js';
import { scopeOf, type DesiredEntry, type DesiredTarget, type FleetStore, type StoredDesired } from './fleet-store.js';
import { ReportedIntake } from './reported-intake.js';
import { SqliteFleetStore } from './sqlite-fleet-store.js';

export function fleetStoreFile(dataDir: string): string {
  return join(dataDir, 'fleet.sqlite');
}

/** Someone who wants to hear of every accepted report (the rollout runner). */
export type ReportListener = (gateway: string, reported: ReportedState) => void;

/**
 * The fleet component wired: store, desired publisher, reported intake. The bridge's root
 * hands it reported messages and a channel to publish desired ones on; the HTTP routes and the
 * rollout runner change desired entries through `setDesired`.
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
      if (tagsChanged) void this.publisher.refresh([gw]);
      for (const l of this.listeners) {
        try {
          l(gw, r);
        } catch (err) {
          this.logger.error({ gateway: gw, err: (err as Error).message }, 'fleet report listener failed');
        }
      }
    });
  }

  static open(opts: { dataDir: string; channel: DesiredChannel; clock: Clock; logger: Logger; throttled: RateLimitedLog }): FleetService {
    return new FleetService(new SqliteFleetStore(fleetStoreFile(opts.dataDir)), opts.channel, opts.clock, opts.logger.child({ component: 'fleet' }), opts.throttled);
  }

  /** Puts the stored desired messages back on the broker (its retained messages do not survive a restart). */
  async start(): Promise<void> {
    await this.publisher.republishAll();
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
      detail: { scope, by, ...(entry.version !== undefined ? { version: entry.version } : {}), ...(entry.configRevision !== undefined ? { configRevision: entry.configRevision } : {}), ...(entry.rollback ? { rollbackOrder: entry.rollback.body.order } : {}) },
    });
    if ('gateway' in target) this.store.touchGateway(target.gateway);
    const changed = await this.publisher.refresh('gateway' in target ? [target.gateway] : undefined);
    return { entry: stored, changed };
  }

  close(): void {
    this.store.close();
  }
}
