import Database from 'better-sqlite3';
import { CloudError } from '../errors.js';

/** One alert event as the cloud keeps it (the gateway's alert payload v1, gateway/src/alerts/event.ts). */
export interface StoredAlert {
  gateway: string;
  epoch: string;
  seq: number;
  alertId: number;
  type: string;
  rule: string;
  series: string;
  condition: string;
  severity: string;
  value: number | null;
  ts: number;
  reason: string;
}

/**
 * Alert events from gateways' priority lane, in their own SQLite file (WAL, synchronous=FULL),
 * keyed by the unique `(gateway, epoch, seq)` like readings, so a resent message is stored once.
 * A separate file from the reading store because alerts are few and must commit even while a big
 * reading batch is being written; with a PostgreSQL reading store the alerts still live here, on
 * the bridge's data dir (one bridge per fleet for alerts; a shared alerts table is future work).
 */
export class SqliteAlertStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;

  constructor(file: string) {
    try {
      this.db = new Database(file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      if (this.db.pragma('synchronous', { simple: true }) !== 2) throw new Error('synchronous=FULL not in effect');
    } catch (err) {
      throw new CloudError('FM_ERR_CLOUD_STORE_OPEN', `${file}: ${(err as Error).message}`);
    }
    this.db.exec(`CREATE TABLE IF NOT EXISTS alerts (
      gateway TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL,
      alert_id INTEGER NOT NULL, type TEXT NOT NULL, rule TEXT NOT NULL, series TEXT NOT NULL,
      condition TEXT NOT NULL, severity TEXT NOT NULL, value REAL, ts INTEGER NOT NULL, reason TEXT NOT NULL,
      received_at INTEGER NOT NULL,
      PRIMARY KEY (gateway, epoch, seq)) WITHOUT ROWID`);
    this.insert = this.db.prepare(
      'INSERT OR IGNORE INTO alerts (gateway, epoch, seq, alert_id, type, rule, series, condition, severity, value, ts, reason, received_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)',
    );
  }

  /** Commits the events in one transaction; returns how many were new. */
  commit(events: readonly StoredAlert[], at: number): { stored: number; duplicates: number } {
    const run = this.db.transaction(() => {
      let stored = 0;
      for (const e of events) stored += this.insert.run(e.gateway, e.epoch, e.seq, e.alertId, e.type, e.rule, e.series, e.condition, e.severity, e.value, e.ts, e.reason, at).changes;
      return stored;
    });
    const stored = run();
    return { stored, duplicates: events.length - stored };
  }

  /** Alerts of a gateway (all when omitted), oldest first by (epoch, seq), at most `limit`. */
  list(gateway?: string, limit = 1000): StoredAlert[] {
    const rows = (
      gateway === undefined
        ? this.db.prepare('SELECT * FROM alerts ORDER BY received_at, gateway, epoch, seq LIMIT ?').all(limit)
        : this.db.prepare('SELECT * FROM alerts WHERE gateway = ? ORDER BY received_at, epoch, seq LIMIT ?').all(gateway, limit)
    ) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      gateway: r.gateway as string,
      epoch: r.epoch as string,
      seq: r.seq as number,
      alertId: r.alert_id as number,
      type: r.type as string,
      rule: r.rule as string,
      series: r.series as string,
      condition: r.condition as string,
      severity: r.severity as string,
      value: r.value as number | null,
      ts: r.ts as number,
      reason: r.reason as string,
    }));
  }

  close(): void {
    this.db.close();
  }
}
