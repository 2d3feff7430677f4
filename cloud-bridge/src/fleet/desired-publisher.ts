import { encodeDesired, fleetTopics } from '@fieldmesh/protocol';
import type { Clock, Logger } from '@fieldmesh/device-sdk';
import { desiredMessage } from './effective-desired.js';
import type { FleetStore } from './fleet-store.js';

/** Where desired messages go: the embedded broker, retained, QoS 1, published by the cloud itself. */
export interface DesiredChannel {
  publishRetained(topic: string, payload: Buffer): Promise<void>;
}

/**
 * Keeps each gateway's retained `fm/g/<gw>/fleet/desired` equal to its effective desired state.
 * `refresh` recomputes for the gateways named (or all known) and publishes those that changed
 * with `serial + 1`; a gateway whose message did not change gets nothing, so a repeat never
 * bumps the serial. The broker keeps retained messages in memory: `republishAll` at start puts
 * the stored messages back under their stored serials.
 */
export class DesiredPublisher {
  /** Messages published (new serials, and republished at start). */
  published = 0;
  failed = 0;
  /** Refreshes run one at a time, so retained messages reach the broker in serial order. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: FleetStore,
    private readonly channel: DesiredChannel,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Recomputes and publishes changes; returns the gateways whose desired state changed. */
  refresh(gateways?: readonly string[]): Promise<string[]> {
    const run = this.queue.then(() => this.refreshNow(gateways));
    this.queue = run.catch(() => {});
    return run;
  }

  private async refreshNow(gateways?: readonly string[]): Promise<string[]> {
    const entries = this.store.allDesired();
    const rows = gateways === undefined ? this.store.gateways() : gateways.map((id) => this.store.gateway(id) ?? this.store.touchGateway(id));
    const artifacts = artifactsOnce(this.store);
    const changed: string[] = [];
    for (const g of rows) {
      const id = g.id;
      const message = desiredMessage(artifacts, entries, id, g.tags);
      const body = JSON.stringify(message);
      if (body === g.published) continue;
      const serial = g.serial + 1;
      const msg = { ...message, serial };
      let payload: Buffer;
      try {
        payload = encodeDesired(msg);
      } catch (err) {
        // Over 64 KiB (artifacts are bounded well below; a backstop): kept unpublished, loudly.
        this.failed++;
        this.logger.error({ gateway: id, err: (err as Error).message }, 'desired state not published');
        continue;
      }
      this.store.savePublished(id, serial, body);
      this.store.addEvent({ at: this.clock.now(), gateway: id, kind: 'desired', detail: summary(msg) });
      changed.push(id);
      await this.send(id, payload);
    }
    return changed;
  }

  republishAll(): Promise<void> {
    const run = this.queue.then(() => this.republishNow());
    this.queue = run.catch(() => {});
    return run;
  }

  private async republishNow(): Promise<void> {
    for (const g of this.store.gateways()) {
      if (g.published === null) continue;
      try {
        await this.send(g.id, encodeDesired({ ...(JSON.parse(g.published) as object), serial: g.serial } as Parameters<typeof encodeDesired>[0]));
      } catch (err) {
        this.failed++;
        this.logger.error({ gateway: g.id, err: (err as Error).message }, 'desired state not republished');
      }
    }
  }

  private async send(id: string, payload: Buffer): Promise<void> {
    try {
      await this.channel.publishRetained(fleetTopics.desired(id), payload);
      this.published++;
    } catch (err) {
      // The stored message stays; the next refresh or start publishes it again.
      this.failed++;
      this.logger.error({ gateway: id, err: (err as Error).message }, 'desired state not published');
    }
  }
}

/** Release and config lookups of one refresh: many gateways share an entry, each artifact is read and parsed once. */
function artifactsOnce(store: FleetStore): Pick<FleetStore, 'release' | 'config'> {
  const releases = new Map<string, ReturnType<FleetStore['release']>>();
  const configs = new Map<number, ReturnType<FleetStore['config']>>();
  return {
    release(version) {
      if (!releases.has(version)) releases.set(version, store.release(version));
      return releases.get(version) ?? null;
    },
    config(revision) {
      if (!configs.has(revision)) configs.set(revision, store.config(revision));
      return configs.get(revision) ?? null;
    },
  };
}

/** What a history event says of a desired message (not the whole signed artifacts). */
export function summary(msg: Record<string, unknown>): Record<string, unknown> {
  const body = (a: unknown) => (a as { body?: Record<string, unknown> } | undefined)?.body;
  return {
    serial: msg.serial,
    ...(body(msg.release) ? { version: body(msg.release)!.version } : {}),
    ...(body(msg.config) ? { configRevision: body(msg.config)!.revision } : {}),
    ...(body(msg.rollback) ? { rollbackOrder: body(msg.rollback)!.order } : {}),
  };
}
