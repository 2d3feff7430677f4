import type Database from 'better-sqlite3';
import type { Clock } from '@fieldmesh/device-sdk';
import type { UncertainStamp } from './append-transaction.js';
import type { ClockHealth } from './clock-health.js';
import type { LogPosition } from './log-position.js';
import type { ReadingLogMeta } from './reading-log-meta.js';

/** How often the last known good wall time is persisted (a floor for the next boot's check). */
const LAST_GOOD_PERSIST_MS = 60_000;

/**
 * Clock stamps of the reading log (clock-health.ts says why): while the wall clock is not known
 * good, each append carries this boot, the monotonic time and the wall offset; once it is good
 * again, this boot's uncertain readings are corrected. Also keeps the last known good wall time.
 */
export class ClockStamps {
  private bootRow = 0;
  private lastGoodWall: number;
  private lastGoodPersistedAt = -Infinity;
  private wasGood = true;
  private readonly health: ClockHealth | null;
  private readonly correctStmt: Database.Statement;
  private readonly uncertainStmt: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly position: LogPosition,
    private readonly meta: ReadingLogMeta,
    private readonly clock: Clock,
    private readonly bootId: string,
    health: ClockHealth | ((lastKnownGood: () => number) => ClockHealth) | undefined,
  ) {
    this.lastGoodWall = Number(meta.get('last_good_wall') ?? 0);
    this.health = typeof health === 'function' ? health(() => this.lastGoodWall) : (health ?? null);
    this.correctStmt = db.prepare('UPDATE readings SET ts = ts + (? - wall_off), boot = NULL, mono = NULL, wall_off = NULL WHERE boot = ?');
    this.uncertainStmt = db.prepare('SELECT count(*) FROM readings WHERE boot IS NOT NULL').pluck();
  }

  /**
   * Null while the wall clock is good (the usual row: no extra columns). On the first good
   * reading after a bad stretch, corrects this boot's uncertain readings first.
   */
  stampNow(): UncertainStamp | null {
    if (!this.health) return null;
    const wall = this.clock.now();
    const mono = this.clock.monotonic();
    const idle = !this.position.asyncInFlight;
    if (this.health.wallKnownGood(wall)) {
      if (!this.wasGood) {
        this.wasGood = true;
        if (idle) this.correct(wall, mono);
      }
      if (wall > this.lastGoodWall) this.lastGoodWall = wall;
      if (mono - this.lastGoodPersistedAt >= LAST_GOOD_PERSIST_MS && idle) {
        this.lastGoodPersistedAt = mono;
        this.meta.set('last_good_wall', String(this.lastGoodWall));
      }
      return null;
    }
    this.wasGood = false;
    if (this.bootRow === 0) {
      this.db.prepare('INSERT OR IGNORE INTO boots (boot_id) VALUES (?)').run(this.bootId);
      this.bootRow = Number(this.db.prepare('SELECT id FROM boots WHERE boot_id = ?').pluck().get(this.bootId));
    }
    return { boot: this.bootRow, mono, wallOff: wall - mono };
  }

  /**
   * The wall clock became good: readings of this boot stored while it was not get
   * ts += (true wall − mono) − (wall − mono at append), i.e. wall = sync wall − (sync mono − mono)
   * for a reading stamped at append. Readings of earlier boots stay marked uncertain.
   * Returns how many were corrected.
   */
  correct(syncWall: number, syncMono: number): number {
    if (this.bootRow === 0 || this.position.asyncInFlight) return 0;
    return this.correctStmt.run(syncWall - syncMono, this.bootRow).changes;
  }

  /** Whether the wall clock is trusted now, and how many stored readings carry an uncertain time. */
  state(): { knownGood: boolean; uncertainReadings: number; bootId: string } {
    return { knownGood: this.wasGood, uncertainReadings: Number(this.uncertainStmt.get()), bootId: this.bootId };
  }
}
