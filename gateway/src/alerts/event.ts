import type { RuleTransition } from './transition.js';

/**
 * One alert event: an alert was raised or cleared. An alert is identified by `alertId`, the `seq`
 * of its `raised` event; its `cleared` event carries the same `alertId`.
 */
export interface AlertEvent extends RuleTransition {
  /** Position in the gateway's alert log: strictly increasing, the upstream cursor moves over it. */
  seq: number;
  alertId: number;
  gateway: string;
}

/**
 * Local MQTT topic of an alert (alerts are published locally at once, before the uplink carries them):
 * `fm/alerts/<gateway>/<rule id>/<series levels…>`, e.g. `fm/alerts/gw-a/boiler-hot/boiler/temp`.
 * Rule ids and series names are validated to the MQTT-safe alphabet (no `+`, `#`, NUL), so the
 * topic needs no escaping. A device-scope staleness alert ends in `<device>/*`.
 * Subscribe to `fm/alerts/<gateway>/#` for all, `fm/alerts/+/<rule>/#` for one rule.
 */
export function alertTopic(gateway: string, ruleId: string, series: string): string {
  return `fm/alerts/${gateway}/${ruleId}/${series}`;
}

/**
 * Payload, JSON, version 1 (`v`); consumers ignore unknown fields, a new `v` means a breaking change:
 * ```json
 * {"v":1,"gateway":"gw-a","seq":7,"alertId":7,"type":"raised","rule":"boiler-hot",
 *  "series":"boiler/temp","condition":"high","severity":"critical","value":81.5,
 *  "ts":1767225600000,"reason":"value 81.5 > high 80"}
 * ```
 * `value` is null for staleness and for clears caused by a rule being removed; `ts` is ms since
 * the epoch. The same payload goes upstream.
 */
export function encodeAlertEvent(e: AlertEvent): string {
  return JSON.stringify({
    v: 1,
    gateway: e.gateway,
    seq: e.seq,
    alertId: e.alertId,
    type: e.type,
    rule: e.ruleId,
    series: e.series,
    condition: e.condition,
    severity: e.severity,
    value: e.value === null || !Number.isFinite(e.value) ? null : e.value,
    ts: e.ts,
    reason: e.reason,
  });
}

/** Parses a payload made by `encodeAlertEvent`; throws on anything else (used by `fieldmesh tail` and tests). */
export function decodeAlertEvent(text: string): AlertEvent {
  const o = JSON.parse(text) as Record<string, unknown>;
  if (o.v !== 1) throw new Error(`unsupported alert payload version ${String(o.v)}`);
  for (const k of ['gateway', 'type', 'rule', 'series', 'condition', 'severity', 'reason']) {
    if (typeof o[k] !== 'string') throw new Error(`alert payload: ${k} must be a string`);
  }
  for (const k of ['seq', 'alertId', 'ts']) if (typeof o[k] !== 'number') throw new Error(`alert payload: ${k} must be a number`);
  if (o.value !== null && typeof o.value !== 'number') throw new Error('alert payload: value must be a number or null');
  return {
    gateway: o.gateway as string,
    seq: o.seq as number,
    alertId: o.alertId as number,
    type: o.type as AlertEvent['type'],
    ruleId: o.rule as string,
    series: o.series as string,
    condition: o.condition as AlertEvent['condition'],
    severity: o.severity as AlertEvent['severity'],
    value: o.value as number | null,
    ts: o.ts as number,
    reason: o.reason as string,
  };
}
