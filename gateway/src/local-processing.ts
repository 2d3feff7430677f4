import type { IncomingMessage, ServerResponse } from 'node:http';
import Database from 'better-sqlite3';
import { openSqlite } from '@fieldmesh/device-sdk/sqlite';
import { systemClock, type Clock, type Timer, silentLogger, type Logger, type Reading } from '@fieldmesh/device-sdk';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import { Alerts, type LocalPublish } from './alerts/alerts.js';
import type { AlertOutbox } from './alerts/log.js';
import { SqliteAlertLog } from './alerts/sqlite-log.js';
import type { MetricFamily } from './metrics/prometheus.js';
import { QueryApi, QUERY_ROUTES } from './query/api.js';
import { ensureTimeIndex, SqliteRawReadings } from './query/sqlite-raw-source.js';
import { TailHub } from './query/tail.js';
import { Rollups } from './rollups/rollups.js';
import { SqliteRollupStore } from './rollups/sqlite-store.js';
import { RulesEngine } from './rules/engine.js';

/** The part of the gateway's HttpApi this needs (gateway/src/http/server.ts). */
export interface RouteTable {
  route(method: 'GET', path: string, handler: (req: { url: URL }) => { status?: number; json?: unknown }): void;
  /** A route that writes the response itself (the SSE stream). */
  stream(path: string, handler: (req: IncomingMessage, res: ServerResponse, url: URL) => void): void;
}

export interface LocalProcessingOptions {
  gatewayId: string;
  /** The gateway's SQLite file (the reading log's). A second connection is opened on it. */
  dbFile: string;
  /** The validated `rules:` config section. */
  rules: unknown;
  /** A `rules`-style raw `rollups:` section; undefined → defaults (rollups/config.ts). */
  rollups?: unknown;
  /** Publishes on the local broker (alerts). */
  publish: LocalPublish;
  /** Alert events older than this that went upstream are deleted (hourly). Default 90 days. */
  alertRetentionMs?: number;
  clock?: Clock;
  logger?: Logger;
}

const HOUR = 3_600_000;

/**
 * Local processing as one piece for the composition root: rules engine, alerts
 * (stored, published locally, queued upstream through `alertOutbox`), rollups, the query API
 * routes and the tail stream, fed by the ingest's committed batches.
 *
 * Its tables live in the gateway's database, through its own connection (better-sqlite3 is
 * synchronous: in one thread two connections never interleave transactions). That connection is
 * WAL with synchronous=FULL like the log's, so a stored alert survives power loss. It also adds
 * the readings (ts, sid) index that raw range queries need.
 */
export class LocalProcessing {
  readonly engine: RulesEngine;
  readonly alerts: Alerts;
  readonly rollups: Rollups;
  readonly tail: TailHub;
  readonly api: QueryApi;
  /** For the uplink's priority lane: alert events not yet acknowledged by the cloud. */
  readonly alertOutbox: AlertOutbox;
  private readonly db: Database.Database;
  private readonly logger: Logger;
  private readonly decisions: boolean[] = [];
  private failures = 0;
  /** A persistent fault must not flood the journal: one line per 10 s. */
  private readonly failureLog: RateLimitedLog;
  private readonly clock: Clock;
  private readonly alertRetentionMs: number;
  private alertPruneTimer: Timer | undefined;
  private readonly alertLog: SqliteAlertLog;

  constructor(opts: LocalProcessingOptions) {
    const clock = (this.clock = opts.clock ?? systemClock);
    this.alertRetentionMs = opts.alertRetentionMs ?? 90 * 24 * HOUR;
    this.logger = (opts.logger ?? silentLogger).child({ component: 'local' });
    this.failureLog = new RateLimitedLog(this.logger, clock, { intervalMs: 10_000, countZero: false });
    this.db = openSqlite(Database, opts.dbFile);
    try {
      ensureTimeIndex(this.db);
      const alertLog = (this.alertLog = new SqliteAlertLog(this.db));
      this.alertOutbox = alertLog;
      this.alerts = new Alerts({ gatewayId: opts.gatewayId, log: alertLog, publish: opts.publish, clock, logger: this.logger });
      this.rollups = new Rollups({ store: new SqliteRollupStore(this.db), config: opts.rollups, clock, logger: this.logger });
      this.engine = new RulesEngine({ rules: opts.rules, onTransition: this.alerts.handle, clock, logger: this.logger });
      // Alerts open before a restart stay open: no second `raised` for the same condition.
      this.engine.restore(this.alerts.openConditions());
      this.tail = new TailHub({ clock });
      this.alerts.onEvent((e) => this.tail.publishAlert(e));
      this.api = new QueryApi({ raw: new SqliteRawReadings(this.db), rollups: this.rollups, openAlerts: () => this.alerts.open(),
        alertEvents: (after, limit) => alertLog.events(after, limit),
      });
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  start(): void {
    this.rollups.start();
    this.armAlertPrune();
  }

  private armAlertPrune(): void {
    this.alertPruneTimer = this.clock.setTimeout(() => {
      try {
        this.alertLog.prune(this.clock.now() - this.alertRetentionMs);
      } catch (err) {
        this.logger.error({ err }, 'alert retention failed; retrying in an hour');
      }
      this.armAlertPrune();
    }, HOUR);
    this.alertPruneTimer.unref?.();
  }

  /**
   * Feeds one committed batch, in commit order. Returns the upstream decision per reading (true =
   * forward at full rate; false = held by a deadband/report-on-change rule). The array is reused
   * by the next call: copy it to keep it.
   */
  onCommitted(readings: readonly Reading[]): readonly boolean[] {
    this.decisions.length = readings.length;
    try {
      this.engine.evaluateBatch(readings, this.decisions);
      this.rollups.add(readings);
      this.tail.publishReadings(readings);
    } catch (err) {
      // Never let local processing break ingest: the readings are stored whatever happens here.
      this.failures++;
      this.failureLog.error('batch', { err, failures: this.failures }, 'local processing of a committed batch failed');
    }
    return this.decisions;
  }

  /** Replaces the rules (validated; throws a RuleError and keeps the old ones when invalid). */
  reloadRules(rules: unknown): void {
    this.engine.reload(rules);
  }

  registerRoutes(http: RouteTable): void {
    for (const path of QUERY_ROUTES) {
      http.route('GET', path, ({ url }) => {
        const out = this.api.handle(path, url.searchParams)!;
        return { status: out.status, json: out.body };
      });
    }
    http.stream('/api/tail', (req, res, url) => this.tail.attach(req, res, url.searchParams));
  }

  metrics(): MetricFamily[] {
    const r = this.engine.stats();
    const a = this.alerts.stats();
    const u = this.rollups.stats();
    const t = this.tail.stats();
    const c = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'counter', samples: [{ value }] });
    const g = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'gauge', samples: [{ value }] });
    return [
      g('fieldmesh_rules', 'rules in force', r.rules),
      c('fieldmesh_rules_readings_total', 'readings evaluated by the rules engine', r.readings),
      { name: 'fieldmesh_rules_upstream_total', help: 'upstream decisions of the deadband/report-on-change rules', type: 'counter', samples: [
        { labels: { decision: 'forward' }, value: r.forwarded },
        { labels: { decision: 'hold' }, value: r.held },
      ] },
      c('fieldmesh_rules_reloads_total', 'successful rule reloads', r.reloads),
      c('fieldmesh_local_failures_total', 'committed batches whose local processing failed (the readings are stored)', this.failures),
      { name: 'fieldmesh_alerts_total', help: 'alert events', type: 'counter', samples: [
        { labels: { type: 'raised' }, value: a.raised },
        { labels: { type: 'cleared' }, value: a.cleared },
      ] },
      g('fieldmesh_alerts_open', 'alerts currently raised', a.open),
      c('fieldmesh_alerts_publish_failures_total', 'alert events not published on the local broker', a.publishFailures),
      c('fieldmesh_alerts_store_failures_total', 'alert events not stored', a.storeFailures),
      g('fieldmesh_alerts_upstream_pending', 'alert events not yet acknowledged by the cloud', this.alertOutbox.pendingUpstreamCount()),
      c('fieldmesh_rollup_readings_total', 'readings seen by the rollups', u.readings),
      { name: 'fieldmesh_rollup_skipped_total', help: 'readings not rolled up, by reason', type: 'counter', samples: [
        { labels: { reason: 'not_numeric' }, value: u.skippedNotNumeric },
        { labels: { reason: 'too_old' }, value: u.skippedTooOld },
        { labels: { reason: 'series_cap' }, value: u.skippedSeriesCap },
      ] },
      c('fieldmesh_rollup_late_readings_total', 'readings merged into an already closed bucket', u.lateReadings),
      c('fieldmesh_rollup_flush_failures_total', 'rollup flushes that failed (retried)', u.flushFailures),
      g('fieldmesh_rollup_pending_buckets', 'rollup buckets held in memory', u.pending),
      g('fieldmesh_tail_clients', 'open /api/tail streams', t.clients),
      c('fieldmesh_tail_dropped_total', 'tail events dropped for slow clients', t.dropped),
    ];
  }

  stop(): void {
    if (this.alertPruneTimer) this.clock.clearTimeout(this.alertPruneTimer);
    this.alertPruneTimer = undefined;
    this.engine.stop();
    this.tail.close();
    try {
      this.rollups.stop();
    } finally {
      this.db.close();
    }
  }
}
