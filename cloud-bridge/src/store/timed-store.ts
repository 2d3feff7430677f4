import type { WireReading } from '@fieldmesh/protocol';
import { Histogram } from '@fieldmesh/device-sdk/metrics/prometheus';
import type { CloudStore, CommitResult, GatewayRecord, ReadingQuery, SeriesInfo, StoredReading } from './cloud-store.js';

/** Operations the latency histogram always lists, so a dashboard query finds them before the first call. */
export const STORE_OPS = ['commit', 'status', 'gateways', 'series', 'readings'] as const;

/**
 * A CloudStore that times every call into `fieldmesh_cloud_store_seconds{op}`, failures
 * included (a slow failing PostgreSQL is what the histogram is for). `now` is a monotonic
 * clock in ms, injected.
 */
export class TimedStore implements CloudStore {
  readonly latency = new Histogram('fieldmesh_cloud_store_seconds', 'Time of one cloud store call, by operation (commit = one batch transaction), seconds.', 'op');

  constructor(
    private readonly inner: CloudStore,
    private readonly now: () => number,
  ) {}

  private async timed<T>(op: (typeof STORE_OPS)[number], call: () => Promise<T>): Promise<T> {
    const t0 = this.now();
    try {
      return await call();
    } finally {
      this.latency.observe(op, Math.max(0, this.now() - t0) / 1000);
    }
  }

  commitBatch(gateway: string, epoch: string, readings: readonly WireReading[], at: number): Promise<CommitResult> {
    return this.timed('commit', () => this.inner.commitBatch(gateway, epoch, readings, at));
  }

  recordStatus(gateway: string, update: Parameters<CloudStore['recordStatus']>[1]): Promise<void> {
    return this.timed('status', () => this.inner.recordStatus(gateway, update));
  }

  gateways(): Promise<GatewayRecord[]> {
    return this.timed('gateways', () => this.inner.gateways());
  }

  series(gateway?: string): Promise<SeriesInfo[]> {
    return this.timed('series', () => this.inner.series(gateway));
  }

  readings(q: ReadingQuery): Promise<StoredReading[]> {
    return this.timed('readings', () => this.inner.readings(q));
  }

  count(): Promise<number> {
    return this.inner.count();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
