import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSenml } from '@fieldmesh/device-sdk';
import type { Reading } from '#device-sdk/reading';
import { decodeAlertEvent, type AlertEvent } from '#gateway/alerts/event';
import { SseParser } from '#gateway/cli/commands/tail';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { Gateway } from '#gateway/gateway';
import type { StepResult } from '#gateway/query/readings';
import { waitFor } from '../../wait-for.js';

/**
 * Local processing through the real gateway: real aedes broker, real SQLite file, real HTTP server, real
 * mqtt.js clients on loopback. The uplink points at a closed port: it is down the whole time.
 */
const dir = mkdtempSync(join(tmpdir(), 'fm-gw-rules-'));
const T0 = Date.UTC(2026, 0, 1);
let gw: Gateway;
let mqttUrl: string;
let httpUrl: string;
let passwords: Map<string, string>;
const clients: MqttClient[] = [];

const RULES = [
  { id: 'boiler-hot', kind: 'threshold', series: 'boiler/temp', high: 80, hysteresis: 2, severity: 'critical' },
  { id: 'quiet-sensor', kind: 'staleness', series: 'boiler/*', after: '1h' },
];

beforeAll(async () => {
  const config = parseGatewayConfig({
    id: 'gw-test',
    dataDir: dir,
    broker: { port: 0, host: '127.0.0.1', auth: 'credentials', devices: ['boiler', 'panel'] },
    http: { port: 0, host: '127.0.0.1' },
    // Nothing listens on port 9 (discard) on loopback: the uplink stays down.
    uplink: { url: 'mqtt://127.0.0.1:9' },
    rules: RULES,
  });
  gw = new Gateway(config, { print: () => {} });
  const started = await gw.start();
  passwords = new Map(started.newCredentials.map((c) => [c.device, c.password]));
  mqttUrl = `mqtt://127.0.0.1:${started.brokerPort}`;
  httpUrl = `http://127.0.0.1:${started.httpPort}`;
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  await gw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function connect(device: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(mqttUrl, { username: device, password: passwords.get(device)!, clientId: device, reconnectPeriod: 0 });
  clients.push(c);
  return c;
}

const until = <T>(what: string, f: () => T | undefined | false, ms = 20_000) => waitFor(f, what, ms);

function senml(readings: Reading[]): string {
  return encodeSenml(readings);
}

describe('local processing inside the real gateway (uplink down)', () => {
  it('an alert raised by a device reading reaches a local actuator on fm/alerts/… at once', async () => {
    const panel = await connect('panel');
    const alerts: Array<{ topic: string; e: AlertEvent }> = [];
    panel.on('message', (topic, payload) => alerts.push({ topic, e: decodeAlertEvent(payload.toString()) }));
    await panel.subscribeAsync('fm/alerts/gw-test/#', { qos: 1 });

    const boiler = await connect('boiler');
    await boiler.publishAsync('fm/d/boiler/senml', senml([{ series: 'boiler/temp', ts: T0, value: 70, unit: 'Cel' }]), { qos: 1 });
    await boiler.publishAsync('fm/d/boiler/senml', senml([{ series: 'boiler/temp', ts: T0 + 1000, value: 85, unit: 'Cel' }]), { qos: 1 });
    const raised = await until('the raised alert', () => alerts[0]);
    expect(raised.topic).toBe('fm/alerts/gw-test/boiler-hot/boiler/temp');
    expect(raised.e).toMatchObject({ type: 'raised', ruleId: 'boiler-hot', series: 'boiler/temp', value: 85, severity: 'critical', gateway: 'gw-test' });

    await boiler.publishAsync('fm/d/boiler/senml', senml([{ series: 'boiler/temp', ts: T0 + 2000, value: 79 }]), { qos: 1 });
    await boiler.publishAsync('fm/d/boiler/senml', senml([{ series: 'boiler/temp', ts: T0 + 3000, value: 77 }]), { qos: 1 });
    const cleared = await until('the cleared alert', () => alerts[1]);
    expect(cleared.e).toMatchObject({ type: 'cleared', alertId: raised.e.alertId, value: 77 });
    expect(alerts).toHaveLength(2);

    // The uplink is down: both events wait in the outbox for the priority lane.
    const outbox = gw.localProcessing.alertOutbox;
    expect(outbox.pendingUpstream(10).map((e) => e.type)).toEqual(['raised', 'cleared']);
    const status = (await (await fetch(`${httpUrl}/api/status`)).json()) as { uplink: { state: string } };
    expect(status.uplink.state).not.toBe('online');
  });

  it('a device may listen to alerts but never publish one', async () => {
    const panel = await connect('panel');
    await panel.publishAsync('fm/alerts/gw-test/boiler-hot/boiler/temp', '{"fake":true}', { qos: 1 });
    const alerts = (await (await fetch(`${httpUrl}/api/alerts`)).json()) as { open: unknown[] };
    expect(alerts.open).toEqual([]);
  });

  it('serves series, raw and stepped readings, and the tail stream from the gateway HTTP port', async () => {
    const series = (await (await fetch(`${httpUrl}/api/series`)).json()) as { series: Array<{ series: string; lastValue: number }> };
    expect(series.series).toContainEqual(expect.objectContaining({ series: 'boiler/temp', lastValue: 77, lastTs: T0 + 3000 }));
    const raw = (await (await fetch(`${httpUrl}/api/readings?series=boiler/temp&from=${T0}&to=${T0 + 3000}`)).json()) as { readings: Array<{ value: number }> };
    expect(raw.readings.map((r) => r.value)).toEqual([70, 85, 79]);
    const stepped = (await (await fetch(`${httpUrl}/api/readings?series=boiler/temp&from=${T0}&to=${T0 + 60_000}&step=60000`)).json()) as StepResult;
    expect(stepped).toMatchObject({ source: 'minute', points: [{ ts: T0, count: 4, min: 70, max: 85, last: 77, avg: (70 + 85 + 79 + 77) / 4 }] });
    const bad = await fetch(`${httpUrl}/api/readings?series=boiler/temp&from=abc&to=1`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'FM_ERR_QUERY_NOT_A_NUMBER', param: 'from' });

    const ctrl = new AbortController();
    const res = await fetch(`${httpUrl}/api/tail?series=boiler/*`, { signal: ctrl.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events: Array<[string, string]> = [];
    const parser = new SseParser();
    const reader = res.body!.getReader();
    const pump = (async () => {
      const dec = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (done) return;
        parser.feed(dec.decode(value, { stream: true }), (e, d) => events.push([e, d]));
      }
    })();
    await until('the tail client', () => gw.localProcessing.tail.stats().clients === 1);
    const boiler = await connect('boiler');
    await boiler.publishAsync('fm/d/boiler/senml', senml([{ series: 'boiler/temp', ts: T0 + 4000, value: 90 }]), { qos: 1 });
    await until('a reading and an alert on the tail', () => events.length >= 2);
    ctrl.abort();
    await pump;
    expect(events.map(([e]) => e).sort()).toEqual(['alert', 'reading']);
  });

  it('reloads rules without a restart, keeping the state of rules that still exist', async () => {
    // boiler-hot is raised (90 > 80). A reload that keeps it must not raise it again.
    expect(gw.localProcessing.engine.active()).toContainEqual({ ruleId: 'boiler-hot', series: 'boiler/temp', condition: 'high' });
    const before = gw.localProcessing.alerts.stats();
    gw.reloadRules([{ ...RULES[0], high: 95, hysteresis: 1 }]);
    const boiler = await connect('boiler');
    await boiler.publishAsync('fm/d/boiler/senml', senml([{ series: 'boiler/temp', ts: T0 + 5000, value: 96 }]), { qos: 1 });
    await boiler.publishAsync('fm/d/boiler/senml', senml([{ series: 'boiler/temp', ts: T0 + 6000, value: 93 }]), { qos: 1 });
    const after = await until('the clear under the new limit', () => {
      const s = gw.localProcessing.alerts.stats();
      return s.cleared > before.cleared ? s : undefined;
    });
    expect(after.raised).toBe(before.raised);
    expect(() => gw.reloadRules([{ id: 'x', kind: 'threshold', series: 'a/b' }])).toThrow(expect.objectContaining({ code: 'FM_ERR_RULE_NO_LIMIT' }));
    const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^fieldmesh_rules_reloads_total 1$/m);
    expect(metrics).toMatch(/^fieldmesh_alerts_total\{type="raised"\} 2$/m);
  });

  it('takes rollup retention per tier from the config, strictly', () => {
    const c = parseGatewayConfig({ rollups: { minute: { retention: '2d' }, flushInterval: '10s' } });
    expect(c.rollups).toMatchObject({ retentionMs: { minute: 2 * 86_400_000, hour: 400 * 86_400_000 }, flushIntervalMs: 10_000 });
    expect(() => parseGatewayConfig({ rollups: { minute: { retension: '2d' } } })).toThrow(
      expect.objectContaining({ code: 'FM_ERR_CONFIG_UNKNOWN_KEY', path: 'rollups.minute.retension' }),
    );
    expect(() => parseGatewayConfig({ rollups: { hour: { retention: 'forever' } } })).toThrow(
      expect.objectContaining({ code: 'FM_ERR_CONFIG_RANGE', path: 'rollups.hour.retention' }),
    );
  });

  it('refuses an invalid rules section at config load with the key path', () => {
    expect(() => parseGatewayConfig({ rules: [{ id: 'r', kind: 'threshold', series: 'a/b', high: 1, hysterisis: 2 }] })).toThrow(
      expect.objectContaining({ code: 'FM_ERR_CONFIG_UNKNOWN_KEY', path: 'rules[0].hysterisis' }),
    );
  });
});
