import type { Database, Statement } from 'better-sqlite3';
import type { RuleTransition } from './transition.js';
import type { AlertEvent } from './event.js';
import { openKey, type AlertLog } from './log.js';

/**
 * Alert log in the gateway's own SQLite database (the handle is passed in; the store component
 * owns the connection, its WAL mode and synchronous setting). Two tables, created if missing:
 * `alert_events` (the append-only log, also the upstream outbox) and `alert_meta` (the upstream
 * cursor). Each append is one short synchronous transaction.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS alert_events (
  seq       INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id  INTEGER NOT NULL,
  type      TEXT NOT NULL CHECK (type IN ('raised', 'cleared')),
  gateway   TEXT NOT NULL,
  rule_id   TEXT NOT NULL,
  series    TEXT NOT NULL,
  condition TEXT NOT NULL,
  severity  TEXT NOT NULL,
  value     REAL,
  ts        INTEGER NOT NULL,
  reason    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events (alert_id);
CREATE INDEX IF NOT EXISTS alert_events_ts ON alert_events (ts);
CREATE TABLE IF NOT EXISTS alert_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO alert_meta (key, value) VALUES ('upstream_cursor', 0);
`;

interface Row {
  seq: number;
  alert_id: number;
  type: AlertEvent['type'];
  gateway: string;
  rule_id: string;
  series: string;
  condition: AlertEvent['condition'];
  severity: AlertEvent['severity'];
  value: number | null;
  ts: number;
  reason: string;
}

function fromRow(r: Row): AlertEvent {
  return {
    seq: r.seq,
    alertId: r.alert_id,
    type: r.type,
    gateway: r.gateway,
    ruleId: r.rule_id,
    series: r.series,
    condition: r.condition,
    severity: r.severity,
    value: r.value,
    ts: r.ts,
    reason: r.reason,
  };
}

export class SqliteAlertLog implements AlertLog {
  private readonly insert: Statement;
  private readonly setAlertId: Statement;
  private readonly after: Statement;
  private readonly getCursor: Statement;
  private readonly setCursor: Statement;
  private readonly openRows: Statement;
  private readonly pruneStmt: Statement;
  private readonly countAfter: Statement;
  private readonly openIds = new Map<string, number>();
  private readonly listeners = new Set<(e: AlertEvent) => void>();
  private readonly appendTx: (t: RuleTransition, gateway: string) => AlertEvent;

  constructor(private readonly db: Database) {
    db.exec(SCHEMA);
    this.insert = db.prepare(
      `INSERT INTO alert_events (alert_id, type, gateway, rule_id, series, condition, severity, value, ts, reason)
       VALUES (@alertId, @type, @gateway, @ruleId, @series, @condition, @severity, @value, @ts, @reason)`,
    );
    this.setAlertId = db.prepare('UPDATE alert_events SET alert_id = seq WHERE seq = ?');
    this.after = db.prepare('SELECT * FROM alert_events WHERE seq > ? ORDER BY seq LIMIT ?');
    this.countAfter = db.prepare('SELECT count(*) FROM alert_events WHERE seq > ?').pluck();
    this.getCursor = db.prepare("SELECT value FROM alert_meta WHERE key = 'upstream_cursor'").pluck();
    this.setCursor = db.prepare(
      `UPDATE alert_meta SET value = min(@seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'alert_events'), 0))
       WHERE key = 'upstream_cursor' AND value < @seq`,
    );
    this.openRows = db.prepare(
      `SELECT r.* FROM alert_events r WHERE r.type = 'raised'
         AND NOT EXISTS (SELECT 1 FROM alert_events c WHERE c.alert_id = r.seq AND c.type = 'cleared')
       ORDER BY r.seq`,
    );
    this.pruneStmt = db.prepare(
      `DELETE FROM alert_events WHERE ts < @before AND seq <= @cursor
         AND NOT (type = 'raised' AND NOT EXISTS (SELECT 1 FROM alert_events c WHERE c.alert_id = alert_events.seq AND c.type = 'cleared'))`,
    );
    for (const e of this.open()) this.openIds.set(openKey(e.ruleId, e.series, e.condition), e.seq);
    this.appendTx = db.transaction((t: RuleTransition, gateway: string): AlertEvent => {
      const key = openKey(t.ruleId, t.series, t.condition);
      const alertId = t.type === 'raised' ? 0 : (this.openIds.get(key) ?? 0);
      const value = t.value === null || !Number.isFinite(t.value) ? null : t.value;
      const seq = Number(this.insert.run({ ...t, value, gateway, alertId }).lastInsertRowid);
      if (t.type === 'raised') this.setAlertId.run(seq);
      return { ...t, value, seq, alertId: t.type === 'raised' ? seq : alertId, gateway };
    });
  }

  append(t: RuleTransition, gateway: string): AlertEvent {
    const e = this.appendTx(t, gateway);
    // Only after the commit: a rolled-back append leaves the open map as it was.
    const key = openKey(t.ruleId, t.series, t.condition);
    if (t.type === 'raised') this.openIds.set(key, e.seq);
    else this.openIds.delete(key);
    for (const l of this.listeners) l(e);
    return e;
  }

  open(): AlertEvent[] {
    return (this.openRows.all() as Row[]).map(fromRow);
  }

  events(afterSeq: number, limit: number): AlertEvent[] {
    return (this.after.all(afterSeq, limit) as Row[]).map(fromRow);
  }

  pendingUpstream(limit: number): AlertEvent[] {
    return this.events(this.upstreamCursor(), limit);
  }

  ackUpstream(seq: number): void {
    this.setCursor.run({ seq });
  }

  pendingUpstreamCount(): number {
    return this.countAfter.get(this.upstreamCursor()) as number;
  }

  upstreamCursor(): number {
    return this.getCursor.get() as number;
  }

  onQueued(listener: (e: AlertEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  prune(beforeTs: number): number {
    return this.pruneStmt.run({ before: beforeTs, cursor: this.upstreamCursor() }).changes;
  }

  close(): void {
    this.listeners.clear();
  }
}
