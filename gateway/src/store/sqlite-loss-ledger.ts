import type Database from 'better-sqlite3';
import type { Reading } from '@fieldmesh/device-sdk';
import { addLoss, splitLossKey, type LossCount } from './loss-ledger.js';
import type { LogPosition } from './log-position.js';

/**
 * The loss ledger in the gateway database (table `loss`, loss-ledger.ts says what counts).
 * Refusals that cannot be written at once (the disk is full) stay pending in memory, are shown
 * anyway, and are written once space returns.
 */
export class SqliteLossLedger {
  private readonly pending = new Map<string, number>();
  private readonly addStmt: Database.Statement;
  private readonly allStmt: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly position: LogPosition,
  ) {
    this.addStmt = db.prepare('INSERT INTO loss (series, reason, count) VALUES (?, ?, ?) ON CONFLICT (series, reason) DO UPDATE SET count = count + excluded.count');
    this.allStmt = db.prepare('SELECT series, reason, count FROM loss ORDER BY series, reason');
  }

  /** Adds the counts of a pending map (loss-ledger.ts addLoss), inside the caller's transaction. */
  write(lost: ReadonlyMap<string, number>): void {
    for (const [k, n] of lost) {
      const { series, reason } = splitLossKey(k);
      this.addStmt.run(series, reason, n);
    }
  }

  /** Counts readings refused at the door (one per reading: a device may resend them). */
  refused(readings: readonly Reading[]): void {
    for (const r of readings) addLoss(this.pending, r.series, 'refused', 1);
    this.flushPending();
  }

  /** Every loss so far, per series and reason (persistent across restarts). */
  all(): LossCount[] {
    this.flushPending();
    const out = this.allStmt.all() as LossCount[];
    if (this.pending.size === 0) return out;
    // Still unwritten (disk full): shown anyway, written once space returns.
    const merged = new Map(out.map((l) => [`${l.reason}\u0000${l.series}`, l.count]));
    for (const [k, n] of this.pending) merged.set(k, (merged.get(k) ?? 0) + n);
    return [...merged].map(([k, count]) => ({ ...splitLossKey(k), count }));
  }

  /** Writes pending losses; on failure (disk full) they stay pending and are shown anyway. */
  private flushPending(): void {
    if (this.pending.size === 0 || this.position.asyncInFlight || this.position.closed) return;
    try {
      this.db.transaction(() => this.write(this.pending))();
      this.pending.clear();
    } catch {
      // kept pending
    }
  }
}
