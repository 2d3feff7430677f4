import type { ActiveCondition, RuleTransition } from './transition.js';
import type { AlertEvent } from './event.js';

/**
 * The hand-off of alerts to the uplink's priority lane. Like the reading log (the outbox: written once, delivered by a cursor), the alert
 * log is the outbox: events are written once, and upstream delivery is a cursor over them that
 * moves only when the cloud acknowledges, so alerts raised while the uplink is down are sent when
 * it returns, ahead of bulk readings, and survive a restart.
 */
export interface AlertOutbox {
  /** Up to `limit` events with seq above the upstream cursor, oldest first. */
  pendingUpstream(limit: number): AlertEvent[];
  /** The cloud durably took every event up to `seq`; a lower value is ignored. */
  ackUpstream(seq: number): void;
  /** Highest seq acknowledged upstream (0 at first). */
  upstreamCursor(): number;
  /** How many events wait above the cursor. */
  pendingUpstreamCount(): number;
  /** Calls `listener` right after each new event is stored, so the lane can send at once. */
  onQueued(listener: (e: AlertEvent) => void): () => void;
}

/** Alert lifecycle storage. Implementations: SQLite (real) and in-memory (logic tests). */
export interface AlertLog extends AlertOutbox {
  /**
   * Appends the event for a transition. A `raised` opens an alert (its alertId is this event's
   * seq); a `cleared` closes the open alert of the same rule, series and condition. A `cleared`
   * with no open alert (e.g. state restored from elsewhere) is stored with alertId 0.
   */
  append(t: RuleTransition, gateway: string): AlertEvent;
  /** Open alerts, oldest first, as `raised` events. */
  open(): AlertEvent[];
  /** Events with seq > `afterSeq`, oldest first (history, `GET /api/alerts`). */
  events(afterSeq: number, limit: number): AlertEvent[];
  /** Deletes events older than `beforeTs` that went upstream, except raises of open alerts. */
  prune(beforeTs: number): number;
  close(): void;
}

export function conditionOf(e: AlertEvent): ActiveCondition {
  return { ruleId: e.ruleId, series: e.series, condition: e.condition };
}

export function openKey(ruleId: string, series: string, condition: string): string {
  return `${ruleId}\u0000${series}\u0000${condition}`;
}
