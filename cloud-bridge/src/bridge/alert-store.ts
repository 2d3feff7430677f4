import Database from 'better-sqlite3';
import { openSqlite } from '@fieldmesh/device-sdk/sqlite';
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

/** Who acknowledged an alert, and when (cloud wall time, ms). */
export interface AlertAck {
  by: string;
  at: number;
}

/** An alert that is raised and not cleared: its raised event, and its acknowledgement if any. */
export interface OpenAlert extends StoredAlert {
  ack: AlertAck | null;
}

/** A history event, with the acknowledgement of its alert if any. */
export type AlertHistoryEvent = OpenAlert;

/** The alert an acknowledgement names: the gateway, its epoch and the alert's id (the seq of its raised event). */
export interface AlertRef {
  gateway: string;
  epoch: string;
  alertId: number;
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
    this.db = openSqlite(Database, file, { fail: (_kind, message) => new CloudError('FM_ERR_CLOUD_STORE_OPEN', message) });
    this.db.exec(`CREATE TABLE IF NOT EXISTS alerts (
      gateway TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL,
      alert_id INTEGER NOT NULL, type TEXT NOT NULL, rule TEXT NOT NULL, series TEXT NOT NULL,
      condition TEXT NOT NULL, severity TEXT NOT NULL, value REAL, ts INTEGER NOT NULL, reason TEXT NOT NULL,
      received_at INTEGER NOT NULL,
      PRIMARY KEY (gateway, epoch, seq)) WITHOUT ROWID`);
    // Acknowledgements are the cloud's own facts, apart from the gateways' events: a resent
    // event never touches them. The first acknowledgement of an alert is the one kept.
    this.db.exec(`CREATE TABLE IF NOT EXISTS alert_acks (
      gateway TEXT NOT NULL, epoch TEXT NOT NULL, alert_id INTEGER NOT NULL,
      acked_by TEXT NOT NULL, acked_at INTEGER NOT NULL,
      PRIMARY KEY (gateway, epoch, alert_id)) WITHOUT ROWID`);
    this.db.exec('CREATE INDEX IF NOT EXISTS alerts_by_alert ON alerts (gateway, epoch, alert_id, type)');
    this.db.exec('CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (ts)');
    this.db.exec('CREATE INDEX IF NOT EXISTS alerts_by_arrival ON alerts (gateway, received_at)');
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
    return rows.map(toStored);
  }

  /**
   * Raised and not cleared, newest first. Only the gateway's newest epoch counts: a re-flashed
   * gateway starts a new alert log, and what stayed open in the old one will never be cleared.
   */
  open(gateway?: string, limit = 1000): OpenAlert[] {
    const rows = this.db
      .prepare(
        `SELECT a.*, k.acked_by, k.acked_at FROM alerts a
         LEFT JOIN alert_acks k ON k.gateway = a.gateway AND k.epoch = a.epoch AND k.alert_id = a.alert_id
         WHERE a.type = 'raised' ${gateway === undefined ? '' : 'AND a.gateway = @gateway'}
           AND NOT EXISTS (SELECT 1 FROM alerts c WHERE c.gateway = a.gateway AND c.epoch = a.epoch AND c.alert_id = a.alert_id AND c.type = 'cleared')
           AND a.epoch = (SELECT e.epoch FROM alerts e WHERE e.gateway = a.gateway ORDER BY e.received_at DESC, e.seq DESC LIMIT 1)
         ORDER BY a.ts DESC, a.gateway, a.seq DESC LIMIT @limit`,
      )
      .all({ limit, ...(gateway === undefined ? {} : { gateway }) }) as Array<Record<string, unknown>>;
    return rows.map(withAck);
  }

  /** Open alerts per gateway (metrics). */
  openCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const a of this.open(undefined, 100_000)) counts.set(a.gateway, (counts.get(a.gateway) ?? 0) + 1);
    return counts;
  }

  /** Events newest first by their gateway time, within [from, to) when given, at most `limit`. */
  history(q: { gateway?: string; from?: number; to?: number; limit: number }): AlertHistoryEvent[] {
    const where = [q.gateway === undefined ? '' : 'a.gateway = @gateway', q.from === undefined ? '' : 'a.ts >= @from', q.to === undefined ? '' : 'a.ts < @to'].filter(Boolean);
    const rows = this.db
      .prepare(
        `SELECT a.*, k.acked_by, k.acked_at FROM alerts a
         LEFT JOIN alert_acks k ON k.gateway = a.gateway AND k.epoch = a.epoch AND k.alert_id = a.alert_id
         ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
         ORDER BY a.ts DESC, a.gateway, a.seq DESC LIMIT @limit`,
      )
      .all({ limit: q.limit, ...(q.gateway === undefined ? {} : { gateway: q.gateway }), ...(q.from === undefined ? {} : { from: q.from }), ...(q.to === undefined ? {} : { to: q.to }) }) as Array<Record<string, unknown>>;
    return rows.map(withAck);
  }

  /**
   * Records that `by` acknowledged the alert at `at`. The first acknowledgement stands (a second
   * one returns it unchanged); null when no such raised alert was received.
   */
  acknowledge(ref: AlertRef, by: string, at: number): AlertAck | null {
    const run = this.db.transaction((): AlertAck | null => {
      const raised = this.db.prepare("SELECT 1 FROM alerts WHERE gateway = ? AND epoch = ? AND alert_id = ? AND type = 'raised'").get(ref.gateway, ref.epoch, ref.alertId);
      if (raised === undefined) return null;
      this.db.prepare('INSERT OR IGNORE INTO alert_acks (gateway, epoch, alert_id, acked_by, acked_at) VALUES (?,?,?,?,?)').run(ref.gateway, ref.epoch, ref.alertId, by, at);
      const row = this.db.prepare('SELECT acked_by, acked_at FROM alert_acks WHERE gateway = ? AND epoch = ? AND alert_id = ?').get(ref.gateway, ref.epoch, ref.alertId) as { acked_by: string; acked_at: number };
      return { by: row.acked_by, at: row.acked_at };
    });
    return run();
  }

  close(): void {
    this.db.close();
  }
}

function toStored(r: Record<string, unknown>): StoredAlert {
  return {
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
  };
}

function withAck(r: Record<string, unknown>): OpenAlert {
  return { ...toStored(r), ack: typeof r.acked_by === 'string' ? { by: r.acked_by, at: r.acked_at as number } : null };
}
