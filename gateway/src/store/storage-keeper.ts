import { silentLogger, type Clock, type Logger, type Timer } from '@fieldmesh/device-sdk';
import { detectBoard } from '@fieldmesh/hardware/boards';
import type { StorageConfig } from './storage-config.js';
import type { MetricFamily } from '../metrics/prometheus.js';
import { LOSS_REASONS, lossTotals, type LossCount, type LossReason } from './loss-ledger.js';
import type { SqliteReadingLog } from './sqlite-reading-log.js';
import { defaultBudgetBytes, StorageBudget, type StorageBudgetStatus } from './storage-budget.js';

/** Least time between two budget checks triggered by commits (a check is two stat calls). */
const COMMIT_CHECK_MS = 250;

export interface StorageStatus {
  budget: StorageBudgetStatus;
  /** Totals per reason (every reason listed, 0 when none). */
  lost: Record<LossReason, number>;
  /** Per series and reason. */
  losses: LossCount[];
  /** Wall clock trusted? Readings whose time is still uncertain (clock-health.ts). */
  clock: { knownGood: boolean; uncertainReadings: number; bootId: string };
  /** Set when this database was salvaged from a corrupt one (salvage.ts). */
  salvage: Record<string, unknown> | null;
}

/**
 * Runs the storage budget for the gateway: checks after commits (throttled) and on a timer,
 * checkpoints the WAL when ingest is idle (SD cards: fewer, larger writes), and serves the
 * storage part of status and metrics.
 */
export class StorageKeeper {
  readonly budget: StorageBudget;
  private timer: Timer | null = null;
  private lastCheck = -Infinity;
  private commitsSinceTick = 0;
  private readonly clock: Clock;
  private readonly interval: number;
  private readonly salvage: Record<string, unknown> | null;

  constructor(
    private readonly log: SqliteReadingLog,
    config: Readonly<StorageConfig>,
    opts: { dataDir: string; clock: Clock; logger?: Logger; budgetFraction?: number },
  ) {
    const logger = opts.logger ?? silentLogger;
    this.clock = opts.clock;
    const budgetBytes =
      config.budgetBytes > 0 ? config.budgetBytes : defaultBudgetBytes(opts.dataDir, opts.budgetFraction ?? detectBoard(undefined, { logger }).profile.defaults.storageBudgetFraction, log.diskUsage().bytes);
    this.budget = new StorageBudget(log, budgetBytes, config.policy, { lowWaterFraction: config.lowWaterPercent / 100, logger });
    this.interval = config.checkIntervalMs;
    this.salvage = log.salvageReport();
  }

  start(): void {
    this.budget.enforce();
    const tick = (): void => {
      if (this.commitsSinceTick === 0) this.log.checkpoint();
      this.commitsSinceTick = 0;
      this.budget.enforce();
      this.timer = this.clock.setTimeout(tick, this.interval);
    };
    this.timer = this.clock.setTimeout(tick, this.interval);
  }

  stop(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** After each group commit: a cheap check, enforcement only when over budget. */
  onCommitted(): void {
    this.commitsSinceTick++;
    const now = this.clock.monotonic();
    if (now - this.lastCheck < COMMIT_CHECK_MS) return;
    this.lastCheck = now;
    if (this.budget.over()) this.budget.enforce();
  }

  status(): StorageStatus {
    const losses = this.log.losses();
    return { budget: this.budget.status(), lost: lossTotals(losses), losses, clock: this.log.clockState(), salvage: this.salvage };
  }

  /** Compact form for the uplink's retained status (bounded: totals, and the 50 largest per series). */
  upstreamStatus(): Record<string, unknown> {
    const s = this.status();
    const top = [...s.losses].sort((a, b) => b.count - a.count).slice(0, 50);
    return { budgetBytes: s.budget.budgetBytes, usedBytes: s.budget.usedBytes, policy: s.budget.policy, admitting: s.budget.admitting, lost: s.lost, losses: top };
  }

  metrics(): MetricFamily[] {
    const s = this.status();
    const backlog = this.log.backlog();
    return [
      {
        name: 'fieldmesh_readings_lost_total',
        help: 'Readings downsampled, evicted, expired, refused or quarantined, per series and reason (nothing is lost silently).',
        type: 'counter',
        samples: [
          ...LOSS_REASONS.map((reason) => ({ labels: { reason, series: '' }, value: 0 })).filter((x) => !s.losses.some((l) => l.reason === x.labels.reason)),
          ...s.losses.map((l) => ({ labels: { reason: l.reason, series: l.series }, value: l.count })),
        ],
      },
      { name: 'fieldmesh_storage_budget_bytes', help: 'Byte budget of the gateway database on disk (file + WAL).', type: 'gauge', samples: [{ value: s.budget.budgetBytes }] },
      { name: 'fieldmesh_storage_used_bytes', help: 'Bytes the gateway database takes on disk (file + WAL) at the last check.', type: 'gauge', samples: [{ value: s.budget.usedBytes }] },
      { name: 'fieldmesh_storage_wal_bytes', help: 'Bytes of the WAL file at the last check.', type: 'gauge', samples: [{ value: s.budget.walBytes }] },
      { name: 'fieldmesh_storage_admitting', help: '1 while readings are accepted; 0 while reject-new refuses them.', type: 'gauge', samples: [{ value: s.budget.admitting ? 1 : 0 }] },
      { name: 'fieldmesh_storage_pruned_acked_total', help: 'Acknowledged readings deleted to make room (upstream already, not a loss).', type: 'counter', samples: [{ value: s.budget.prunedAcked }] },
      { name: 'fieldmesh_backlog_exact_bytes', help: 'Bytes of the unsent readings (seq, series, ts, kind, value), kept incrementally.', type: 'gauge', samples: [{ value: backlog.bytes }] },
    ];
  }
}
