import { conflictError } from './cloud-store.js';
import type { WireReading } from '@fieldmesh/protocol';
import type { CloudStore, CommitResult, GatewayRecord, ReadingQuery, SeriesInfo, StoredReading } from './cloud-store.js';

/** The in-memory twin of the SQLite store, for logic tests. Same contract, no durability. */
export class MemoryCloudStore implements CloudStore {
  private readonly rows = new Map<string, StoredReading>();
  private readonly gws = new Map<string, GatewayRecord>();

  private gateway(id: string): GatewayRecord {
    let g = this.gws.get(id);
    if (!g) {
      g = { id, online: false, lastContact: null, epoch: null, ackedSeq: 0, reportedBacklog: null, readings: 0, status: null };
      this.gws.set(id, g);
    }
    return g;
  }

  async commitBatch(gateway: string, epoch: string, readings: readonly WireReading[], at: number): Promise<CommitResult> {
    let stored = 0;
    let maxSeq = 0;
    const fresh: Array<[string, StoredReading]> = [];
    const conflicts: number[] = [];
    for (const r of readings) {
      const key = `${gateway}\u0000${epoch}\u0000${r.seq}`;
      const old = this.rows.get(key);
      if (old) {
        if (old.series !== r.series || old.ts !== r.ts || old.unit !== r.unit || !Object.is(old.value, r.value)) conflicts.push(r.seq);
        continue;
      }
      const row: StoredReading = { gateway, epoch, seq: r.seq, series: r.series, ts: r.ts, value: r.value };
      if (r.unit !== undefined) row.unit = r.unit;
      fresh.push([key, row]);
    }
    if (conflicts.length > 0) throw conflictError(gateway, epoch, conflicts);
    for (const [key, row] of fresh) {
      this.rows.set(key, row);
      maxSeq = Math.max(maxSeq, row.seq);
      stored++;
    }
    const g = this.gateway(gateway);
    g.lastContact = at;
    g.online = true;
    if (stored === 0) return { stored, duplicates: readings.length };
    if (g.epoch !== epoch) {
      g.epoch = epoch;
      g.ackedSeq = 0;
    }
    g.ackedSeq = Math.max(g.ackedSeq, maxSeq);
    g.readings += stored;
    return { stored, duplicates: readings.length - stored };
  }

  async recordStatus(gateway: string, u: { online: boolean; at: number; status?: Record<string, unknown>; reportedBacklog?: number | null }): Promise<void> {
    const g = this.gateway(gateway);
    g.online = u.online;
    g.lastContact = u.at;
    if (u.status !== undefined) g.status = u.status;
    if (u.reportedBacklog !== undefined) g.reportedBacklog = u.reportedBacklog;
  }

  async gateways(): Promise<GatewayRecord[]> {
    return [...this.gws.values()].map((g) => ({ ...g })).sort((a, b) => cmp(a.id, b.id));
  }

  async series(gateway?: string): Promise<SeriesInfo[]> {
    const by = new Map<string, SeriesInfo>();
    for (const r of this.sorted()) {
      if (gateway !== undefined && r.gateway !== gateway) continue;
      const key = `${r.gateway}\u0000${r.series}`;
      const s = by.get(key);
      if (!s) {
        const info: SeriesInfo = { gateway: r.gateway, series: r.series, count: 1, lastTs: r.ts, lastValue: r.value };
        if (r.unit !== undefined) info.unit = r.unit;
        by.set(key, info);
      } else {
        s.count++;
        if (r.ts >= s.lastTs) {
          s.lastTs = r.ts;
          s.lastValue = r.value;
          if (r.unit !== undefined) s.unit = r.unit;
        }
      }
    }
    return [...by.values()].sort((a, b) => cmp(a.gateway, b.gateway) || cmp(a.series, b.series));
  }

  async readings(q: ReadingQuery): Promise<StoredReading[]> {
    return this.sorted()
      .filter((r) => (q.gateway === undefined || r.gateway === q.gateway) && (q.series === undefined || r.series === q.series))
      .filter((r) => (q.from === undefined || r.ts >= q.from) && (q.to === undefined || r.ts < q.to))
      .filter((r) => q.after === undefined || (r.ts - q.after.ts || cmp(r.gateway, q.after.gateway) || cmp(r.epoch, q.after.epoch) || r.seq - q.after.seq) > 0)
      .slice(0, q.limit)
      .map((r) => ({ ...r }));
  }

  /** Order shared with SQLite: time, then gateway, epoch, seq. */
  private sorted(): StoredReading[] {
    return [...this.rows.values()].sort((a, b) => a.ts - b.ts || cmp(a.gateway, b.gateway) || cmp(a.epoch, b.epoch) || a.seq - b.seq);
  }

  async count(): Promise<number> {
    return this.rows.size;
  }

  async close(): Promise<void> {}
}

/** Binary string order, as SQLite's default collation sorts. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
