import type { ReadingValue } from '@fieldmesh/device-sdk';
import { haUnit } from './ha-units.js';

/**
 * Home Assistant MQTT device-based discovery payloads (HOMEASSISTANT.md): one config message per
 * fieldmesh device on `<prefix>/device/<object id>/config`, its series as components (`cmps`),
 * and one for the gateway itself with a `problem` binary sensor per rule. Pure: the runtime
 * (home-assistant.ts) decides when to send them.
 */
export interface KnownSeries {
  series: string;
  unit?: string;
  kind: 'number' | 'boolean' | 'string';
  lastTs: number;
}

export interface HaTopics {
  /** State topic of a series (the JSON reading `{"ts","value","unit"}`). */
  state(series: string): string;
  availability: string;
  /** Retained `ON`/`OFF` of a rule's open alerts. */
  alertState(ruleId: string): string;
  /** The state payload is a list of readings (the local `fm/r/…`), not one reading. */
  stateIsList: boolean;
}

export function valueKind(v: ReadingValue): KnownSeries['kind'] {
  return typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : 'string';
}

/** Home Assistant ids are `[a-zA-Z0-9_-]`: every other character of a series name becomes `_`. */
export function objectId(...parts: string[]): string {
  return parts.map((p) => p.replace(/[^A-Za-z0-9_-]/g, '_')).join('_');
}

export function deviceConfigTopic(prefix: string, nodeId: string): string {
  return `${prefix}/device/${nodeId}/config`;
}

/** What every config shares at its root: the origin, the components, and the gateway's availability for all of them. */
function shared(cmps: Record<string, unknown>, topics: HaTopics, sw: string): Record<string, unknown> {
  return { o: { name: 'fieldmesh', sw }, cmps, availability_topic: topics.availability, payload_available: 'online', payload_not_available: 'offline', qos: 0 };
}

function component(gateway: string, s: KnownSeries, topics: HaTopics): Record<string, unknown> {
  const slash = s.series.indexOf('/');
  const device = s.series.slice(0, slash);
  const sensor = s.series.slice(slash + 1);
  const base = { name: sensor, unique_id: objectId('fieldmesh', gateway, device, sensor), state_topic: topics.state(s.series) };
  const v = topics.stateIsList ? '(value_json | last).value' : 'value_json.value';
  if (s.kind === 'boolean') return { p: 'binary_sensor', ...base, value_template: `{{ 'ON' if ${v} else 'OFF' }}`, payload_on: 'ON', payload_off: 'OFF' };
  if (s.kind === 'string') return { p: 'sensor', ...base, value_template: `{{ ${v} }}` };
  const u = haUnit(s.unit, sensor);
  return {
    p: 'sensor',
    ...base,
    value_template: `{{ ${v} }}`,
    state_class: 'measurement',
    ...(u && u.unit !== '' ? { unit_of_measurement: u.unit } : {}),
    ...(u?.deviceClass ? { device_class: u.deviceClass } : {}),
  };
}

/**
 * The config of one fieldmesh device. `retired`: series removed since the last config, each sent
 * once as `{"p": …}` alone, which is how device-based discovery removes a component.
 */
export function deviceConfig(gateway: string, device: string, series: readonly KnownSeries[], retired: readonly KnownSeries[], topics: HaTopics, sw: string): Record<string, unknown> {
  const cmps: Record<string, unknown> = {};
  for (const s of series) cmps[objectId(s.series.slice(s.series.indexOf('/') + 1))] = component(gateway, s, topics);
  for (const s of retired) cmps[objectId(s.series.slice(s.series.indexOf('/') + 1))] = { p: s.kind === 'boolean' ? 'binary_sensor' : 'sensor' };
  return {
    dev: { ids: [objectId('fieldmesh', gateway, device)], name: device, mf: 'fieldmesh', mdl: 'fieldmesh device', via_device: objectId('fieldmesh', gateway) },
    ...shared(cmps, topics, sw),
  };
}

/** The gateway as a device: a `problem` binary sensor per rule, ON while any of its alerts is open. */
export function gatewayConfig(gateway: string, ruleIds: readonly string[], topics: HaTopics, sw: string): Record<string, unknown> {
  const cmps: Record<string, unknown> = {};
  for (const id of ruleIds) {
    cmps[objectId('alert', id)] = { p: 'binary_sensor', name: `alert ${id}`, unique_id: objectId('fieldmesh', gateway, 'alert', id), device_class: 'problem', state_topic: topics.alertState(id), payload_on: 'ON', payload_off: 'OFF' };
  }
  return {
    dev: { ids: [objectId('fieldmesh', gateway)], name: `fieldmesh ${gateway}`, mf: 'fieldmesh', mdl: 'fieldmesh gateway', sw_version: sw },
    ...shared(cmps, topics, sw),
  };
}
