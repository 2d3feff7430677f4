import type { StoragePolicy } from './storage-budget.js';

/**
 * The `storage:` section: the reading log's byte budget on disk and what happens when
 * it is reached (storage-budget.ts).
 *
 * ```yaml
 * storage: { budgetBytes: 536870912, policy: downsample }
 * ```
 */
export interface StorageConfig {
  /**
   * Bytes the gateway database (file + WAL) may take on disk. Default 0: derived at start from
   * the free space of the data directory's file system times the board's
   * `storageBudgetFraction` (hardware/src/boards), at least 8 MiB.
   */
  budgetBytes: number;
  /**
   * When the budget is reached (after acknowledged readings were pruned):
   * `downsample` (default): oldest unsent raw readings become their 1-minute rollups, then the
   * oldest rows go; `drop-oldest`: oldest unsent rows go; `reject-new`: devices get no PUBACK
   * until space returns. Every reading given up on is counted (loss ledger).
   */
  policy: StoragePolicy;
  /** Ms between budget checks and idle WAL checkpoints. Default 5,000. Commits also trigger a check. */
  checkIntervalMs: number;
  /** Percent of the budget enforcement frees down to (hysteresis), and where reject-new admits again. Default 90. */
  lowWaterPercent: number;
}
