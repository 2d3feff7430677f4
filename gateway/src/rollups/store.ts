import type { ReadingValue } from '@fieldmesh/device-sdk';
import type { Bucket } from './bucket.js';
import type { TierName } from './config.js';

/** The newest reading of a series (greatest time; equal times: the later arrival). */
export interface LatestValue {
  series: string;
  ts: number;
  value: ReadingValue;
  unit?: string;
}

export interface RollupBatch {
  /** Partial aggregates, merged into whatever is stored for the same series and bucket. */
  buckets: Record<TierName, Bucket[]>;
  /** Replaces the stored latest value of a series only when not older. */
  latest: LatestValue[];
}

/** Rollup storage. Implementations: SQLite (real) and in-memory (logic tests); one contract suite. */
export interface RollupStore {
  /** Applies the whole batch atomically (one transaction), or nothing when it throws. */
  write(batch: RollupBatch): void;
  /** Buckets of `series` with start in [from, to), oldest first. */
  range(tier: TierName, series: string, from: number, to: number): Bucket[];
  /** Deletes up to `limit` buckets that start before `before`; returns how many. */
  deleteBefore(tier: TierName, before: number, limit: number): number;
  /** Every series' latest value, by series name. */
  latest(): LatestValue[];
}
