/**
 * An app with `--write-coils` rights writes a writable Modbus register through the gateway's
 * broker (fm/w/<device>/<sensor>); the PUBACK comes after the slave answered, the outcome on
 * fm/a/<app>/result; an app without the right, or a register the config does not mark writable,
 * is refused. Against a pymodbus TCP server, read back with mbpoll.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { Gateway } from '#gateway/gateway';
import { FileCredentialStore } from '#gateway/ingest/credentials';
import { havePymodbus, haveMbpoll, mbpoll, PymodbusServer } from '../modbus/pymodbus.js';
import { until } from '../ingest/fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function app(port: number, id: string, password: string): Promise<MqttClient> {
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: `app:${id}`, username: `app:${id}`, password, reconnectPeriod: 0 });
  cleanups.push(() => void c.end(true));
  await new Promise<void>((res, rej) => (c.once('connect', () => res()), c.once('error', rej)));
  return c;
}

describe('app writes to Modbus (fm/w/<device>/<sensor>)', () => {
  it('writes what its --write-coils patterns and the config allow, reports each outcome, refuses the rest', async () => {
    expect(havePymodbus(), 'python3-pymodbus is required (.ci/apt-packages)').toBe(true);
    expect(haveMbpoll(), 'mbpoll is required (.ci/apt-packages)').toBe(true);
    const server = await new PymodbusServer({ mode: 'tcp', slaves: { 1: { hr: { 0: [853, 200] }, co: { 0: [1] } } } }).start();
    cleanups.push(() => server.kill());
    const dir = mkdtempSync(join(tmpdir(), 'fm-app-writes-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const apps = new FileCredentialStore(join(dir, 'data', 'apps.json'));
    const writer = await apps.rotate('nodered', ['tank/*'], ['tank/*']);
    const reader = await apps.rotate('viewer', ['tank/*']);
    const gw = new Gateway(
      parseGatewayConfig({
        id: 'gw-w',
        dataDir: join(dir, 'data'),
        broker: { port: 0, host: '127.0.0.1', auth: 'none' },
        http: { port: 0, host: '127.0.0.1' },
        modbus: {
          writes: true,
          tcp: [{ host: '127.0.0.1', port: server.port, slaves: [{ unit: 1, device: 'tank', pollMs: 200, registers: [
            { sensor: 'temperature', function: 'holding', address: 0, type: 'int16', scale: 0.1, unit: 'Cel' },
            { sensor: 'setpoint', function: 'holding', address: 1, scale: 0.1, writable: true, unit: 'Cel' },
            { sensor: 'pump', function: 'coil', address: 0, writable: true },
          ] }] }],
        },
      }),
      { print: () => {} },
    );
    cleanups.push(() => gw.stop());
    const { brokerPort, httpPort } = await gw.start();

    const w = await app(brokerPort, 'nodered', writer);
    const results: Array<Record<string, unknown>> = [];
    w.on('message', (_t, p) => results.push(JSON.parse(p.toString()) as Record<string, unknown>));
    await w.subscribeAsync('fm/a/nodered/result', { qos: 0 });
    await w.publishAsync('fm/w/tank/setpoint', '21.5', { qos: 1 });
    // PUBACK after the slave took it: the register already reads back.
    expect(mbpoll(['127.0.0.1', '-m', 'tcp', '-p', String(server.port), '-a', '1', '-t', '4', '-r', '1'])).toEqual(['215']);
    await w.publishAsync('fm/w/tank/pump', 'false', { qos: 1 });
    expect(mbpoll(['127.0.0.1', '-m', 'tcp', '-p', String(server.port), '-a', '1', '-t', '0', '-r', '0'])).toEqual(['0']);
    // Not writable in the config: the slave is left alone, the app is told why.
    await w.publishAsync('fm/w/tank/temperature', '1', { qos: 1 });
    await w.publishAsync('fm/w/tank/setpoint', 'hot', { qos: 1 });
    await until(() => results.length >= 4, 10_000, 'four results');
    expect(results.map((r) => [r.series, r.ok, r.code ?? null])).toEqual([
      ['tank/setpoint', true, null],
      ['tank/pump', true, null],
      ['tank/temperature', false, 'FM_ERR_MODBUS_WRITE_DENIED'],
      ['tank/setpoint', false, 'FM_ERR_INGEST_VALUE'],
    ]);
    expect(mbpoll(['127.0.0.1', '-m', 'tcp', '-p', String(server.port), '-a', '1', '-t', '4', '-r', '0'])).toEqual(['853']);
    expect(w.connected).toBe(true);
    // A write is no reading: nothing of it is in the log but what the poller reads back.
    expect(gw.store.readAfter(0, 100_000).some((r) => r.series === 'tank/setpoint' && r.value === 'hot')).toBe(false);

    // Outside the write patterns (or with none): a refused publish that closes the connection, counted.
    const v = await app(brokerPort, 'viewer', reader);
    const closed = new Promise<void>((r) => v.once('close', () => r()));
    v.publish('fm/w/tank/setpoint', '30', { qos: 1 });
    await closed;
    expect(mbpoll(['127.0.0.1', '-m', 'tcp', '-p', String(server.port), '-a', '1', '-t', '4', '-r', '1'])).toEqual(['215']);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    expect(metrics).toContain('fieldmesh_ingest_rejected_total{reason="app_publish"} 1');
  });
});
