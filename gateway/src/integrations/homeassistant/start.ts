import type { Clock, Logger } from '@fieldmesh/device-sdk';
import type { HomeAssistantConfig } from '../../config/integrations.js';
import { availabilityTopic, appTopic } from '../../ingest/app-grant.js';
import type { HaTopics } from './ha-discovery.js';
import { HomeAssistantDiscovery } from './home-assistant.js';
import { LocalHaLink, MqttHaLink } from './ha-links.js';

/** Topics on the gateway's own broker: the `fm/r/…` readings apps already read, its availability. */
export function localHaTopics(gatewayId: string): HaTopics {
  return { state: appTopic, availability: availabilityTopic(gatewayId), alertState: (rule) => `fm/alerts/${gatewayId}/${rule}/state`, stateIsList: true };
}

/** Topics on Home Assistant's broker, under the gateway's id so several gateways can share it. */
export function externalHaTopics(gatewayId: string): HaTopics {
  const base = `fieldmesh/${gatewayId}`;
  return { state: (series) => `${base}/r/${series}`, availability: `${base}/availability`, alertState: (rule) => `${base}/alert/${rule}`, stateIsList: false };
}

export interface StartedHomeAssistant {
  discovery: HomeAssistantDiscovery;
  /** For the local broker: Home Assistant's birth messages, handed over by the broker. */
  local: LocalHaLink | null;
}

export async function startHomeAssistant(o: {
  gatewayId: string;
  config: HomeAssistantConfig;
  publishLocal: (topic: string, payload: string, opts: { qos: 0 | 1; retain: boolean }) => void;
  ruleIds: readonly string[];
  sw: string;
  clock: Clock;
  logger: Logger;
}): Promise<StartedHomeAssistant> {
  const log = o.logger.child({ component: 'homeassistant' });
  const local = o.config.url === null ? new LocalHaLink(o.publishLocal) : null;
  const topics = local ? localHaTopics(o.gatewayId) : externalHaTopics(o.gatewayId);
  const link = local ?? (await MqttHaLink.connect(o.config, `fieldmesh-${o.gatewayId}`, topics.availability, log));
  const discovery = new HomeAssistantDiscovery({ gatewayId: o.gatewayId, config: o.config, link, topics, publishState: local === null, ruleIds: o.ruleIds, sw: o.sw, clock: o.clock, logger: log });
  return { discovery, local };
}

/**
 * The gateway's entry: null when disabled; else discovery started, and on the local broker Home
 * Assistant's birth topic opened to apps (the one topic an app may publish on).
 */
export async function homeAssistantFor(o: {
  gatewayId: string;
  config: HomeAssistantConfig;
  broker: { publish(topic: string, payload: string, opts: { qos: 0 | 1; retain: boolean }): void; allowAppPublish(topic: string, handler: (payload: string) => void): void; allowAppSubscribe(prefix: string): void };
  ruleIds: readonly string[];
  latest: () => ReadonlyArray<{ series: string; ts: number; value: number | boolean | string; unit?: string }>;
  sw: string;
  clock: Clock;
  logger: Logger;
}): Promise<HomeAssistantDiscovery | null> {
  if (!o.config.enabled) return null;
  const started = await startHomeAssistant({ ...o, publishLocal: (t, p, opts) => o.broker.publish(t, p, opts) });
  const local = started.local;
  if (local) {
    o.broker.allowAppPublish(`${o.config.discoveryPrefix}/status`, (payload) => local.birthMessage(payload));
    o.broker.allowAppSubscribe(`${o.config.discoveryPrefix}/`);
  }
  started.discovery.start(o.latest());
  return started.discovery;
}
