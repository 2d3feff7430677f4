import { statfsSync } from 'node:fs';
import { silentLogger, type Logger } from '@fieldmesh/device-sdk';
import type { LossReason } from './loss-ledger.js';

export type StoragePolicy = 'downsample' | 'drop-oldest' | 'reject-new';

/** What the budget needs of the log (SqliteReadingLog implements it). */
export interface BudgetedLog {
  diskUsage(): { dbBytes: number; walBytes: number; bytes: number };
  rows(): { stored: number; unsent: number };
  busy(): boolean;
  setAdmission(open: boolean): void;
  admitting(): boolean;
  pruneAcked(maxRows: number): number;
  evictUnsent(maxRows: number, reason: LossReason): number;
  downsampleUnsent(maxRows: number): { replaced: number; rollups: number } | null;
  reclaim(): void;
  limitWal(bytes: number): void;
}

export interface StorageBudgetStatus {
  policy: StoragePolicy;
  budgetBytes: number;
  usedBytes: number;
  dbBytes: number;
  walBytes: number;
  /** false while reject-new refuses devices. */
  admitting: boolean;
  /** Acknowledged rows deleted to make room (not a loss: they are upstream). */
  prunedAcked: number;
  enforcements: number;
  /** Over budget with nothing left this policy may delete (e.g. rollup tables alone exceed it). */
  stuck: boolean;
}

/** Smallest budget a default derivation gives: below this the log cannot hold a minute of data. */
export const MIN_DEFAULT_BUDGET = 8 * 1024 * 1024;

/**
 * Default budget: a board's share of the space the log may have where the data lives — free
 * space plus what the log already takes (`ownBytes`), so a restart with a big backlog on a
 * fuller disk does not shrink its own budget below it. Measured once at start; a budget that
 * followed free space live would shrink as the log itself grows.
 */
export function defaultBudgetBytes(dataDir: string, fraction: number, ownBytes = 0): number {
  const fs = statfsSync(dataDir);
  return Math.max(MIN_DEFAULT_BUDGET, Math.floor((fs.bavail * fs.bsize + ownBytes) * fraction));
}

/**
 * Keeps the reading log within its byte budget on disk (database + WAL). Acknowledged rows go
 * first, in seq order (they are upstream already); then the declared policy decides about unsent
 * ones. Decisions follow seq order, never the wall clock, so a clock that jumps cannot make the
 * budget delete the wrong readings. Enforcement frees down to a low-water mark (hysteresis), so
 * it runs rarely and in chunks rather than on every commit.
 */
export class StorageBudget {
  private readonly lowWater: number;
  private readonly walLimit: number;
  private readonly log: Logger;
  private prunedAcked = 0;
  private enforcements = 0;
  private stuck = false;
  private last = { dbBytes: 0, walBytes: 0, bytes: 0 };

  constructor(
    private readonly store: BudgetedLog,
    readonly budgetBytes: number,
    readonly policy: StoragePolicy,
    opts: { lowWaterFraction?: number; logger?: Logger } = {},
  ) {
    if (!(Number.isSafeInteger(budgetBytes) && budgetBytes > 0)) throw new RangeError(`storage budget ${budgetBytes} must be a positive whole number of bytes`);
    this.lowWater = Math.floor(budgetBytes * (opts.lowWaterFraction ?? 0.9));
    this.log = (opts.logger ?? silentLogger).child({ component: 'storage' });
    // The WAL is part of the budget: an eighth of it at most, so it can never crowd out the data.
    this.walLimit = Math.floor(budgetBytes / 8);
    store.limitWal(this.walLimit);
  }

  /** Whether the log is over budget now (cheap: two stat calls). */
  over(): boolean {
    this.last = this.store.diskUsage();
    return this.last.bytes > this.budgetBytes || (!this.store.admitting() && this.last.bytes > this.lowWater);
  }

  /**
   * Brings the log back under budget. Synchronous and chunked; skipped while a commit is in
   * flight on the commit thread (the next check runs it). Never throws: a failure is logged and
   * the next check tries again.
   */
  enforce(): void {
    if (this.store.busy()) return;
    try {
      this.enforceNow();
    } catch (err) {
      this.log.error({ err }, 'storage budget enforcement failed; retrying at the next check');
    }
  }

  status(): StorageBudgetStatus {
    return {
      policy: this.policy,
      budgetBytes: this.budgetBytes,
      usedBytes: this.last.bytes,
      dbBytes: this.last.dbBytes,
      walBytes: this.last.walBytes,
      admitting: this.store.admitting(),
      prunedAcked: this.prunedAcked,
      enforcements: this.enforcements,
      stuck: this.stuck,
    };
  }

  private readmit(usedBytes: number): void {
    if (this.store.admitting()) return;
    this.store.setAdmission(true);
    this.log.info({ usedBytes }, 'storage back under the low-water mark: accepting readings again');
  }

  private enforceNow(): void {
    let u = this.store.diskUsage();
    if (u.walBytes > this.walLimit) {
      // The commit thread's connection checkpoints only at its own (larger) autocheckpoint size.
      this.store.reclaim();
      u = this.store.diskUsage();
    }
    this.last = u;
    // Refusing (reject-new) holds until usage is below the low-water mark, so work on until then.
    if (u.bytes <= (this.store.admitting() ? this.budgetBytes : this.lowWater)) {
      this.readmit(u.bytes);
      this.stuck = false;
      return;
    }
    this.enforcements++;
    let removedAny = false;
    for (let pass = 0; pass < 64 && u.bytes > this.lowWater; pass++) {
      const { stored } = this.store.rows();
      const perRow = stored > 0 ? Math.max(16, u.dbBytes / stored) : 64;
      const want = Math.max(256, Math.ceil(((u.bytes - this.lowWater) / perRow) * 1.2));
      let n = this.store.pruneAcked(want);
      this.prunedAcked += n;
      if (n === 0) {
        if (this.policy === 'reject-new') {
          if (this.store.admitting()) this.log.warn({ usedBytes: u.bytes, budgetBytes: this.budgetBytes }, 'storage budget reached (reject-new): refusing readings until space returns');
          this.store.setAdmission(false);
          this.store.reclaim();
          this.last = this.store.diskUsage();
          return;
        }
        if (this.policy === 'downsample') {
          const r = this.store.downsampleUnsent(Math.max(1000, want * 2));
          n = r ? r.replaced - r.rollups : this.store.evictUnsent(want, 'evicted');
        } else {
          n = this.store.evictUnsent(want, 'evicted');
        }
      }
      this.store.reclaim();
      u = this.store.diskUsage();
      this.last = u;
      if (n <= 0) break;
      removedAny = true;
    }
    if (u.bytes <= this.lowWater) this.readmit(u.bytes);
    this.stuck = u.bytes > this.budgetBytes;
    if (this.stuck) this.log.warn({ usedBytes: u.bytes, budgetBytes: this.budgetBytes, removedAny }, 'over the storage budget with nothing left the policy may delete');
  }
}
