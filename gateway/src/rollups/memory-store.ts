import { mergeAggregate, type Bucket } from './bucket.js';
import { TIER_NAMES, type TierName } from './config.js';
import type { LatestValue, RollupBatch, RollupStore } from './store.js';

/** In-memory twin of SqliteRollupStore for logic tests; held to the same contract suite. */
export class MemoryRollupStore implements RollupStore {
  private readonly tiers = {} as Record<TierName, Map<string, Map<number, Bucket>>>;
  private readonly latestBySeries = new Map<string, LatestValue>();

  constructor() {
    for (const t of TIER_NAMES) this.tiers[t] = new Map();
  }

  write(batch: RollupBatch): void {
    for (const tier of TIER_NAMES) {
      for (const b of batch.buckets[tier]) {
        let m = this.tiers[tier].get(b.series);
        if (!m) this.tiers[tier].set(b.series, (m = new Map()));
        const cur = m.get(b.bucket);
        if (cur) mergeAggregate(cur, b);
        else m.set(b.bucket, { ...b });
      }
    }
    for (const l of batch.latest) {
      const cur = this.latestBySeries.get(l.series);
      if (!cur || l.ts >= cur.ts) this.latestBySeries.set(l.series, { ...l });
    }
  }

  range(tier: TierName, series: string, from: number, to: number): Bucket[] {
    const m = this.tiers[tier].get(series);
    if (!m) return [];
    return [...m.values()].filter((b) => b.bucket >= from && b.bucket < to).sort((a, b) => a.bucket - b.bucket).map((b) => ({ ...b }));
  }

  deleteBefore(tier: TierName, before: number, limit: number): number {
    let n = 0;
    for (const m of this.tiers[tier].values()) {
      for (const k of m.keys()) {
        if (n >= limit) return n;
        if (k < before) {
          m.delete(k);
          n++;
        }
      }
    }
    return n;
  }

  latest(): LatestValue[] {
    return [...this.latestBySeries.values()].sort((a, b) => (a.series < b.series ? -1 : a.series > b.series ? 1 : 0)).map((l) => ({ ...l }));
  }
}
