import type { Clock, Logger, Reading } from '@fieldmesh/device-sdk';
import type { Timer } from '@fieldmesh/device-sdk';
import type { HomeAssistantConfig } from '../../config/integrations.js';
import { deviceConfig, deviceConfigTopic, gatewayConfig, objectId, valueKind, type HaTopics, type KnownSeries } from './ha-discovery.js';

/** Where discovery, state and availability go: the gateway's own broker, or Home Assistant's. */
export interface HaLink {
  publish(topic: string, payload: string, retain: boolean): void;
  /** Home Assistant's birth message (`<prefix>/status` = `online`): it lost its entities, announce again. */
  onBirth(handler: () => void): void;
  /** Called on each (re)connection to the broker, when the link has one. */
  onConnect(handler: () => void): void;
  close(): Promise<void>;
}

export interface HomeAssistantOptions {
  gatewayId: string;
  config: HomeAssistantConfig;
  link: HaLink;
  topics: HaTopics;
  /** Whether this runtime publishes the state topics itself (an external broker) or they exist already (the local `fm/r/…`). */
  publishState: boolean;
  ruleIds: readonly string[];
  sw: string;
  clock: Clock;
  logger: Logger;
}

/**
 * Home Assistant MQTT discovery for a gateway's series and alerts (HOMEASSISTANT.md): announces
 * every device when started, on every (re)connection and on Home Assistant's birth message; a new
 * series (or one whose unit or value type changed) re-announces its device after the commit that
 * brought it; a series silent for `retireAfterMs` is removed from its device, and a device with
 * no series left gets an empty retained config, which deletes it in Home Assistant.
 */
export class HomeAssistantDiscovery {
  private readonly series = new Map<string, KnownSeries>();
  private readonly retired = new Map<string, KnownSeries[]>();
  /** Devices Home Assistant holds a config of (so a retired device is deleted once). */
  private readonly announced = new Set<string>();
  private readonly openAlerts = new Map<string, Set<string>>();
  private timer: Timer | null = null;
  readonly stats = { announcements: 0, statesPublished: 0, retired: 0, births: 0 };

  constructor(private readonly o: HomeAssistantOptions) {
    o.link.onBirth(() => {
      this.stats.births++;
      this.announceAll();
    });
    o.link.onConnect(() => this.announceAll());
  }

  /** `known`: the series the gateway already has (their newest values), so restarts announce at once. */
  start(known: ReadonlyArray<{ series: string; ts: number; value: Reading['value']; unit?: string }>): void {
    for (const k of known) this.series.set(k.series, { series: k.series, kind: valueKind(k.value), lastTs: k.ts, ...(k.unit !== undefined ? { unit: k.unit } : {}) });
    this.announceAll();
    const every = this.o.config.retireAfterMs;
    if (every > 0) {
      const tick = () => {
        this.retireStale();
        this.timer = this.o.clock.setTimeout(tick, Math.min(3_600_000, Math.max(1000, Math.floor(every / 10))));
        this.timer.unref?.();
      };
      this.timer = this.o.clock.setTimeout(tick, Math.min(3_600_000, Math.max(1000, Math.floor(every / 10))));
      this.timer.unref?.();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.o.link.close();
  }

  private deviceOf(series: string): string {
    return series.slice(0, series.indexOf('/'));
  }

  /** After each commit (the gateway's commit pipeline). */
  onCommitted(readings: readonly Reading[]): void {
    let changed: Set<string> | null = null;
    const newest = this.o.publishState ? new Map<string, Reading>() : null;
    for (const r of readings) {
      const known = this.series.get(r.series);
      const kind = valueKind(r.value);
      if (!known || known.kind !== kind || known.unit !== r.unit) {
        this.series.set(r.series, { series: r.series, kind, lastTs: r.ts, ...(r.unit !== undefined ? { unit: r.unit } : {}) });
        (changed ??= new Set()).add(this.deviceOf(r.series));
      } else if (r.ts > known.lastTs) known.lastTs = r.ts;
      if (newest) {
        const n = newest.get(r.series);
        if (!n || r.ts >= n.ts) newest.set(r.series, r);
      }
    }
    if (changed) for (const d of changed) this.announceDevice(d);
    if (newest) {
      for (const r of newest.values()) {
        this.o.link.publish(this.o.topics.state(r.series), JSON.stringify(r.unit === undefined ? { ts: r.ts, value: r.value } : { ts: r.ts, value: r.value, unit: r.unit }), false);
        this.stats.statesPublished++;
      }
    }
  }

  /** An alert event the gateway published (`fm/alerts/<gw>/<rule>/<series>`, payload v1). */
  onAlert(payload: string): void {
    let e: { rule?: unknown; series?: unknown; type?: unknown };
    try {
      e = JSON.parse(payload) as typeof e;
    } catch {
      return;
    }
    if (typeof e.rule !== 'string' || typeof e.series !== 'string') return;
    let open = this.openAlerts.get(e.rule);
    if (!open) this.openAlerts.set(e.rule, (open = new Set()));
    if (e.type === 'raised') open.add(e.series);
    else if (e.type === 'cleared') open.delete(e.series);
    else return;
    this.o.link.publish(this.o.topics.alertState(e.rule), open.size > 0 ? 'ON' : 'OFF', true);
  }

  private announceAll(): void {
    const devices = new Set<string>();
    for (const s of this.series.keys()) devices.add(this.deviceOf(s));
    for (const d of devices) this.announceDevice(d);
    const prefix = this.o.config.discoveryPrefix;
    const gwTopic = deviceConfigTopic(prefix, objectId('fieldmesh', this.o.gatewayId));
    if (this.o.ruleIds.length > 0) {
      this.o.link.publish(gwTopic, JSON.stringify(gatewayConfig(this.o.gatewayId, this.o.ruleIds, this.o.topics, this.o.sw)), true);
      for (const id of this.o.ruleIds) this.o.link.publish(this.o.topics.alertState(id), (this.openAlerts.get(id)?.size ?? 0) > 0 ? 'ON' : 'OFF', true);
    }
  }

  private announceDevice(device: string): void {
    const topic = deviceConfigTopic(this.o.config.discoveryPrefix, objectId('fieldmesh', this.o.gatewayId, device));
    const live = [...this.series.values()].filter((s) => this.deviceOf(s.series) === device).sort((a, b) => (a.series < b.series ? -1 : 1));
    const retired = this.retired.get(device) ?? [];
    this.retired.delete(device);
    if (live.length === 0) {
      // Nothing left on the device: an empty retained config deletes it (and clears the retained one).
      if (this.announced.delete(device) || retired.length > 0) this.o.link.publish(topic, '', true);
      return;
    }
    this.o.link.publish(topic, JSON.stringify(deviceConfig(this.o.gatewayId, device, live, retired, this.o.topics, this.o.sw)), true);
    this.announced.add(device);
    this.stats.announcements++;
  }

  /** Series with no reading for retireAfterMs leave Home Assistant. */
  retireStale(): void {
    const cutoff = this.o.clock.now() - this.o.config.retireAfterMs;
    const touched = new Set<string>();
    for (const [name, s] of this.series) {
      if (s.lastTs >= cutoff) continue;
      this.series.delete(name);
      const d = this.deviceOf(name);
      const list = this.retired.get(d) ?? [];
      list.push(s);
      this.retired.set(d, list);
      touched.add(d);
      this.stats.retired++;
    }
    for (const d of touched) this.announceDevice(d);
  }
}
