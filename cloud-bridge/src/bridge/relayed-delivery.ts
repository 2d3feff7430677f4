import type { Clock } from '@fieldmesh/device-sdk';
import type { CloudStore, GatewayRecord } from '../store/cloud-store.js';

/** A gateway as the list shows it, with the relay its data arrives through lately. */
export type GatewayRecordWithRoute = GatewayRecord & {
  /** The gateway whose uplink carried this gateway's latest batches (gateway/src/relay), or null when direct. */
  via: string | null;
};

/**
 * Which gateway's data arrives through whom (the cloud's gateway list shows it).
 * In memory: a route is a live fact, not history; after `freshMs` without a relayed batch the
 * gateway reads as direct again. Bounded by the number of gateways the ACL admits.
 */
export class RelayedDelivery {
  private readonly routes = new Map<string, { via: string; at: number; batches: number }>();

  constructor(
    private readonly clock: Clock,
    /** ms a relayed batch keeps the "via" showing. Default 60 s: a few of the origin's retries. */
    private readonly freshMs = 60_000,
  ) {}

  /** A batch of `origin` arrived through `via`. */
  relayed(origin: string, via: string): void {
    const r = this.routes.get(origin);
    if (r && r.via === via) {
      r.at = this.clock.now();
      r.batches++;
    } else this.routes.set(origin, { via, at: this.clock.now(), batches: 1 });
  }

  /** A batch of `origin` arrived on its own uplink: it is direct again. */
  direct(origin: string): void {
    this.routes.delete(origin);
  }

  viaOf(origin: string): string | null {
    const r = this.routes.get(origin);
    if (!r || this.clock.now() - r.at > this.freshMs) return null;
    return r.via;
  }

  /** The store as the HTTP API reads it: the same, with `via` on each gateway record. */
  annotate(store: CloudStore): CloudStore {
    return {
      commitBatch: (...a) => store.commitBatch(...a),
      recordStatus: (...a) => store.recordStatus(...a),
      gateways: async () => (await store.gateways()).map((g): GatewayRecordWithRoute => ({ ...g, via: this.viaOf(g.id) })),
      series: (...a) => store.series(...a),
      readings: (...a) => store.readings(...a),
      count: () => store.count(),
      close: () => store.close(),
    };
  }
}
