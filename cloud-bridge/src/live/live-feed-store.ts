import type { WireReading } from '@fieldmesh/protocol';
import type { CloudStore, CommitResult, GatewayRecord, ReadingQuery, SeriesInfo, StoredReading } from '../store/cloud-store.js';
import type { LiveHub } from './live-hub.js';

/**
 * A CloudStore that tells the live hub what it committed: readings once their transaction is
 * durable (so a subscriber never sees a reading the store could still lose), and every status
 * change. A resent batch that stored nothing new is not streamed again.
 */
export class LiveFeedStore implements CloudStore {
  constructor(
    private readonly inner: CloudStore,
    private readonly hub: LiveHub,
  ) {}

  async commitBatch(gateway: string, epoch: string, readings: readonly WireReading[], at: number): Promise<CommitResult> {
    const result = await this.inner.commitBatch(gateway, epoch, readings, at);
    if (result.stored > 0) this.hub.readings(gateway, readings);
    return result;
  }

  async recordStatus(gateway: string, update: { online: boolean; at: number; status?: Record<string, unknown>; reportedBacklog?: number | null }): Promise<void> {
    await this.inner.recordStatus(gateway, update);
    this.hub.status({ gateway, online: update.online, at: update.at, ...(update.status ? { status: update.status } : {}) });
  }

  gateways(): Promise<GatewayRecord[]> {
    return this.inner.gateways();
  }

  series(gateway?: string): Promise<SeriesInfo[]> {
    return this.inner.series(gateway);
  }

  readings(q: ReadingQuery): Promise<StoredReading[]> {
    return this.inner.readings(q);
  }

  count(): Promise<number> {
    return this.inner.count();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
