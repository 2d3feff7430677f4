/** How much an alert matters; a rule's spec names it, the alert carries it. */
export type Severity = 'info' | 'warning' | 'critical';

/**
 * What a rule reports when an alert condition starts or ends for one series (or one device, for
 * a staleness rule with scope `device`). The alerts component stores, publishes and forwards it.
 */
export interface RuleTransition {
  type: 'raised' | 'cleared';
  ruleId: string;
  /** The series the condition is about; for a device-scope staleness rule, `<device>/*`. */
  series: string;
  severity: Severity;
  /** Which side of the rule: above `high`, below `low`, rising/falling too fast, or silent. */
  condition: 'high' | 'low' | 'rise' | 'fall' | 'stale';
  /** The value that caused the transition (the reading's value, or the rate for rate rules);
   * null for staleness (there is no value: that is the point). */
  value: number | null;
  /** Reading time for value-driven transitions; gateway wall time for staleness and removals. */
  ts: number;
  /** Human-readable why, e.g. `value 81.2 > high 80`. */
  reason: string;
}

export type TransitionSink = (t: RuleTransition) => void;

/** An alert condition that is currently active, as kept across reloads and restarts. */
export interface ActiveCondition {
  ruleId: string;
  series: string;
  condition: RuleTransition['condition'];
}
