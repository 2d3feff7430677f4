import { systemClock, type Clock, silentLogger, type Logger } from '@fieldmesh/device-sdk';
import { isGatewayId } from '@fieldmesh/protocol';
import type { ActiveCondition, RuleTransition } from './transition.js';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import { AlertError } from './errors.js';
import { alertTopic, encodeAlertEvent, type AlertEvent } from './event.js';
import { conditionOf, type AlertLog } from './log.js';

/**
 * Publishes on the gateway's local broker. The composition root passes a wrapper around aedes'
 * `publish`; it must not throw for a routine failure (a throw is counted and logged anyway).
 */
export type LocalPublish = (topic: string, payload: string, opts: { qos: 0 | 1; retain: boolean }) => void;

export interface AlertsOptions {
  gatewayId: string;
  log: AlertLog;
  publish: LocalPublish;
  clock?: Clock;
  logger?: Logger;
  /**
   * Publish retained, so an actuator that (re)connects learns each alert's current state at once.
   * Default true. A cleared alert stays retained as `cleared` (a few hundred bytes per rule ×
   * series pair; an empty retained payload would also be valid but tells a late subscriber less).
   */
  retain?: boolean;
  /** Minimum ms between two log lines about failing publishes. Default 10 000. */
  logEveryMs?: number;
}

export interface AlertsStats {
  raised: number;
  cleared: number;
  published: number;
  publishFailures: number;
  storeFailures: number;
  open: number;
}

/**
 * The alert lifecycle: each rule transition is stored first (so it is durable and queued upstream
 * through the log, which is the AlertOutbox), then published locally at once, so a local actuator
 * reacts without the cloud. A store failure still publishes locally: acting on site matters more
 * than the record.
 */
export class Alerts {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly retain: boolean;
  private readonly complaints: RateLimitedLog;
  private readonly counts = { raised: 0, cleared: 0, published: 0, publishFailures: 0, storeFailures: 0 };
  private readonly listeners = new Set<(e: AlertEvent) => void>();
  private unstoredSeq = 0;

  constructor(private readonly opts: AlertsOptions) {
    if (!isGatewayId(opts.gatewayId)) throw new AlertError('FM_ERR_ALERT_BAD_GATEWAY_ID', `gateway id '${opts.gatewayId}' is not usable`);
    this.clock = opts.clock ?? systemClock;
    this.logger = (opts.logger ?? silentLogger).child({ component: 'alerts' });
    this.retain = opts.retain ?? true;
    this.complaints = new RateLimitedLog(this.logger, this.clock, { intervalMs: opts.logEveryMs ?? 10_000, countZero: false });
  }

  /** The TransitionSink to give the rules engine. */
  readonly handle = (t: RuleTransition): void => {
    let e: AlertEvent;
    try {
      e = this.opts.log.append(t, this.opts.gatewayId);
    } catch (err) {
      this.counts.storeFailures++;
      this.complain({ err, ruleId: t.ruleId, series: t.series }, 'alert not stored; publishing locally anyway');
      // Negative seq marks an event that never reached the log (and so will not go upstream).
      e = { ...t, seq: --this.unstoredSeq, alertId: 0, gateway: this.opts.gatewayId };
    }
    if (t.type === 'raised') this.counts.raised++;
    else this.counts.cleared++;
    try {
      this.opts.publish(alertTopic(this.opts.gatewayId, t.ruleId, t.series), encodeAlertEvent(e), { qos: 1, retain: this.retain });
      this.counts.published++;
    } catch (err) {
      this.counts.publishFailures++;
      this.complain({ err, ruleId: t.ruleId, series: t.series }, 'alert not published locally');
    }
    for (const l of this.listeners) l(e);
  };

  /** Conditions open in the log, to `RulesEngine.restore` after a restart. */
  openConditions(): ActiveCondition[] {
    return this.opts.log.open().map(conditionOf);
  }

  open(): AlertEvent[] {
    return this.opts.log.open();
  }

  /** Every alert event as it happens (e.g. the `/api/tail` stream). */
  onEvent(listener: (e: AlertEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): AlertsStats {
    return { ...this.counts, open: this.opts.log.open().length };
  }

  private complain(obj: object, msg: string): void {
    this.complaints.warn('complaint', obj as Record<string, unknown>, msg);
  }
}
