import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { deviceConfig, gatewayConfig, type KnownSeries } from '#gateway/integrations/homeassistant/ha-discovery';
import { externalHaTopics } from '#gateway/integrations/homeassistant/start';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { Gateway } from '#gateway/gateway';
import { startMosquitto, type Mosquitto } from '../../cloud-bridge/scale/mosquitto.js';
import { until } from '../ingest/fixture.js';
import { haDiscoveryProblems } from './ha-schema.js';

const BIN = fileURLToPath(new URL('../../../gateway/bin/fieldmesh.js', import.meta.url));

describe('Home Assistant discovery payloads (pure)', () => {
  const topics = externalHaTopics('gw-a');
  const s = (series: string, kind: KnownSeries['kind'], unit?: string): KnownSeries => ({ series, kind, lastTs: 0, ...(unit ? { unit } : {}) });

  it('every series kind and mapped unit gives a payload Home Assistant documents', () => {
    const series = [s('env/temp', 'number', 'Cel'), s('env/hum', 'number', '%RH'), s('env/co2', 'number', 'ppm'), s('env/pm2_5', 'number', 'ug/m3'), s('env/door', 'boolean'), s('env/mode', 'string'), s('env/count', 'number', 'count'), s('env/ph', 'number', 'pH'), s('meter/energy', 'number', 'kWh')];
    const cfg = deviceConfig('gw-a', 'env', series, [s('env/old', 'number', 'Cel')], topics, '0.1.0');
    expect(haDiscoveryProblems(cfg)).toEqual([]);
    const cmps = cfg.cmps as Record<string, Record<string, unknown>>;
    expect(cmps.temp).toMatchObject({ p: 'sensor', device_class: 'temperature', unit_of_measurement: '°C', state_class: 'measurement', state_topic: 'fieldmesh/gw-a/r/env/temp', unique_id: 'fieldmesh_gw-a_env_temp' });
    expect(cmps.pm2_5).toMatchObject({ device_class: 'pm25', unit_of_measurement: 'µg/m³' });
    expect(cmps.door).toMatchObject({ p: 'binary_sensor', payload_on: 'ON' });
    expect(cmps.count).not.toHaveProperty('device_class');
    expect(cmps.old).toEqual({ p: 'sensor' });
    expect(haDiscoveryProblems(gatewayConfig('gw-a', ['hot', 'cold'], topics, '0.1.0'))).toEqual([]);
    // The checker itself refuses what Home Assistant would.
    expect(haDiscoveryProblems({ dev: { ids: [] }, o: {}, cmps: { 'a b': { p: 'sensor', device_class: 'temperature', unit_of_measurement: 'ppm' } } }).length).toBeGreaterThan(3);
  });
});

describe('Home Assistant discovery end to end (real Mosquitto, real gateway process)', () => {
  let mosq: Mosquitto | undefined;
  let proc: ChildProcess | undefined;
  let dir: string | undefined;
  const clients: MqttClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    proc?.kill('SIGKILL');
    proc = undefined;
    await mosq?.stop();
    mosq = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function client(url: string, id: string): Promise<MqttClient> {
    const c = mqtt.connect(url, { clientId: id, reconnectPeriod: 0, protocolVersion: 4 });
    clients.push(c);
    await new Promise<void>((res, rej) => {
      c.once('connect', () => res());
      c.once('error', rej);
    });
    return c;
  }

  it('announces devices and rules, re-announces on the birth message, streams state, retires silent series, and goes unavailable by its will', async () => {
    mosq = await startMosquitto();
    dir = mkdtempSync(join(tmpdir(), 'fm-ha-'));
    const cfgFile = join(dir, 'gateway.yaml');
    writeFileSync(
      cfgFile,
      [
        'id: gw-ha',
        `dataDir: ${join(dir, 'data')}`,
        'broker: { port: 0, host: 127.0.0.1, auth: none }',
        'http: { port: 0 }',
        'mesh: { mdns: false }',
        `integrations: { homeassistant: { enabled: true, url: "${mosq.url}", retireAfterMs: 30000 } }`,
        'rules:',
        '  - { id: too-hot, kind: threshold, series: env/temp, high: 30, hysteresis: 1 }',
        '',
      ].join('\n'),
    );
    // Home Assistant: reads discovery and everything fieldmesh publishes on its broker.
    const ha = await client(mosq.url, 'homeassistant');
    const got: Array<{ topic: string; payload: string; retain: boolean }> = [];
    ha.on('message', (topic, p, packet) => got.push({ topic, payload: p.toString(), retain: packet.retain }));
    await ha.subscribeAsync(['homeassistant/#', 'fieldmesh/#'], { qos: 1 });

    proc = spawn(process.execPath, [BIN, 'gateway', '--config', cfgFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    await until(() => /broker: mqtt:\/\/[^:]+:(\d+)/.test(out), 30_000, 'gateway started');
    const brokerPort = Number(/broker: mqtt:\/\/[^:]+:(\d+)/.exec(out)![1]);
    await until(() => got.some((m) => m.topic === 'fieldmesh/gw-ha/availability' && m.payload === 'online'), 20_000, 'online');
    // The gateway device with its rule comes first (no series yet).
    await until(() => got.some((m) => m.topic === 'homeassistant/device/fieldmesh_gw-ha/config'), 20_000, 'gateway config');

    const now = Date.now();
    const dev = await client(`mqtt://127.0.0.1:${brokerPort}`, 'env');
    const old = await client(`mqtt://127.0.0.1:${brokerPort}`, 'attic');
    await dev.publishAsync('fm/d/env/senml', JSON.stringify([{ bn: 'env/', n: 'temp', u: 'Cel', v: 21.5, t: now / 1000 }, { n: 'door', vb: false, t: now / 1000 }, { n: 'stale', u: 'Cel', v: 1, t: now / 1000 - 120 }]), { qos: 1 });
    await old.publishAsync('fm/d/attic/senml', JSON.stringify([{ bn: 'attic/', n: 'temp', u: 'Cel', v: 5, t: now / 1000 - 120 }]), { qos: 1 });
    const configOf = (device: string) => got.filter((m) => m.topic === `homeassistant/device/fieldmesh_gw-ha_${device}/config`);
    await until(() => configOf('env').length >= 1 && got.some((m) => m.topic === 'fieldmesh/gw-ha/r/env/temp'), 20_000, 'env announced and its state');
    const envCfg = JSON.parse(configOf('env')[0]!.payload) as Record<string, unknown>;
    // Retained: a Home Assistant that connects later still finds it.
    const late = await client(mosq.url, 'late-ha');
    const lateGot: string[] = [];
    late.on('message', (topic) => lateGot.push(topic));
    await late.subscribeAsync('homeassistant/device/+/config', { qos: 1 });
    await until(() => lateGot.includes('homeassistant/device/fieldmesh_gw-ha_env/config'), 10_000, 'retained config');
    expect(haDiscoveryProblems(envCfg)).toEqual([]);
    expect(Object.keys(envCfg.cmps as object).sort()).toEqual(['door', 'stale', 'temp']);
    expect(envCfg).toMatchObject({ availability_topic: 'fieldmesh/gw-ha/availability', dev: { ids: ['fieldmesh_gw-ha_env'], via_device: 'fieldmesh_gw-ha' } });
    const state = got.find((m) => m.topic === 'fieldmesh/gw-ha/r/env/temp')!;
    expect(JSON.parse(state.payload)).toEqual({ ts: Math.round(now), value: 21.5, unit: 'Cel' });
    expect(haDiscoveryProblems(JSON.parse(got.find((m) => m.topic === 'homeassistant/device/fieldmesh_gw-ha/config')!.payload))).toEqual([]);

    // An alert raises the rule's problem sensor.
    await dev.publishAsync('fm/d/env/temp', '35', { qos: 1 });
    await until(() => got.some((m) => m.topic === 'fieldmesh/gw-ha/alert/too-hot' && m.payload === 'ON'), 20_000, 'alert ON');

    // Home Assistant restarts: its birth message makes the gateway announce everything again.
    const before = configOf('env').length;
    await ha.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await until(() => configOf('env').length > before, 20_000, 're-announce on birth');

    // Series silent past retireAfterMs go: `stale` leaves env's components, attic is deleted (empty retained config).
    await until(() => configOf('attic').some((m) => m.payload === ''), 30_000, 'attic deleted');
    await until(() => configOf('env').some((m) => JSON.stringify((JSON.parse(m.payload) as { cmps: Record<string, unknown> }).cmps.stale) === '{"p":"sensor"}'), 30_000, 'stale removed');

    // kill -9: Mosquitto publishes the will, Home Assistant marks the entities unavailable.
    proc.kill('SIGKILL');
    await until(() => got.some((m) => m.topic === 'fieldmesh/gw-ha/availability' && m.payload === 'offline'), 30_000, 'offline by will');
  });

  it('on the gateway broker: Home Assistant logs in as an app, reads discovery and fm/r state, and may publish its birth message only', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-ha-local-'));
    const gw = new Gateway(parseGatewayConfig({ id: 'gw-l', dataDir: join(dir, 'data'), broker: { port: 0, host: '127.0.0.1', devices: ['env'] }, http: { port: 0 }, integrations: { homeassistant: { enabled: true } } }), { print: () => {} });
    const started = await gw.start();
    try {
      const { FileCredentialStore } = await import('#gateway/ingest/credentials');
      const password = await new FileCredentialStore(join(dir, 'data', 'apps.json')).rotate('ha', ['*/*']);
      const url = `mqtt://127.0.0.1:${started.brokerPort}`;
      const ha = mqtt.connect(url, { clientId: 'app:ha', username: 'app:ha', password, reconnectPeriod: 0 });
      clients.push(ha);
      await new Promise<void>((res, rej) => (ha.once('connect', () => res()), ha.once('error', rej)));
      const got: Array<{ topic: string; payload: string }> = [];
      ha.on('message', (topic, p) => got.push({ topic, payload: p.toString() }));
      await ha.subscribeAsync(['homeassistant/#', 'fm/r/#', 'fm/g/gw-l/availability'], { qos: 0 });
      const pw = started.newCredentials.find((c) => c.device === 'env')!.password;
      const dev = await (async () => {
        const c = mqtt.connect(url, { clientId: 'env', username: 'env', password: pw, reconnectPeriod: 0 });
        clients.push(c);
        await new Promise<void>((res, rej) => (c.once('connect', () => res()), c.once('error', rej)));
        return c;
      })();
      await dev.publishAsync('fm/d/env/temp', '20', { qos: 1 });
      await until(() => got.some((m) => m.topic === 'homeassistant/device/fieldmesh_gw-l_env/config') && got.some((m) => m.topic === 'fm/r/env/temp'), 20_000, 'local discovery and state');
      const cfg = JSON.parse(got.find((m) => m.topic === 'homeassistant/device/fieldmesh_gw-l_env/config')!.payload) as { cmps: Record<string, { state_topic: string }>; availability_topic: string };
      expect(cfg.cmps.temp!.state_topic).toBe('fm/r/env/temp');
      expect(cfg.availability_topic).toBe('fm/g/gw-l/availability');
      const n = got.filter((m) => m.topic.startsWith('homeassistant/device/')).length;
      await ha.publishAsync('homeassistant/status', 'online', { qos: 1 });
      await until(() => got.filter((m) => m.topic.startsWith('homeassistant/device/')).length > n, 20_000, 're-announce on birth');
      expect(ha.connected).toBe(true);
      expect(gw.store.lastSeq()).toBe(1);
    } finally {
      await gw.stop();
    }
  });
});
