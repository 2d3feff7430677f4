/**
 * Modbus inside the real Gateway (composition root, SQLite reading log, rules): readings from a
 * pymodbus TCP server go through the same ingest path, show in /metrics and /api/status; a rule
 * alert writes a coil back (rule action), and POST /api/modbus/write writes a register.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { Gateway } from '#gateway/gateway';
import { waitFor } from '../serial/fakes.js';
import { havePymodbus, mbpoll, PymodbusServer } from './pymodbus.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('Gateway with a modbus section', () => {
  it('stores polled readings, serves status and metrics, writes from a rule action and over HTTP', async () => {
    expect(havePymodbus(), 'python3-pymodbus is required (.ci/apt-packages)').toBe(true);
    // Holding 0: temperature ×0.1; holding 1: setpoint; coil 0: pump (on).
    const server = await new PymodbusServer({ mode: 'tcp', slaves: { 1: { hr: { 0: [853, 200] }, co: { 0: [1] } } } }).start();
    cleanups.push(() => server.kill());
    const dir = mkdtempSync(join(tmpdir(), 'fm-gw-modbus-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = parseGatewayConfig({
      id: 'gw-m',
      dataDir: join(dir, 'data'),
      broker: { port: 0, host: '127.0.0.1', auth: 'none' },
      http: { port: 0, host: '127.0.0.1' },
      rules: [{ id: 'tank-hot', kind: 'threshold', series: 'tank/temperature', high: 80 }],
      modbus: {
        writes: true,
        tcp: [{ host: '127.0.0.1', port: server.port, slaves: [
          { unit: 1, device: 'tank', pollMs: 100, registers: [
            { sensor: 'temperature', function: 'holding', address: 0, type: 'int16', scale: 0.1, unit: 'Cel' },
            { sensor: 'setpoint', function: 'holding', address: 1, scale: 0.1, writable: true, unit: 'Cel' },
            { sensor: 'pump', function: 'coil', address: 0, writable: true },
          ] },
          { unit: 5, device: 'ghost', pollMs: 100, timeoutMs: 100, registers: [{ sensor: 'v', function: 'holding', address: 0 }] },
        ] }],
        actions: [{ rule: 'tank-hot', on: 'raised', device: 'tank', sensor: 'pump', value: false }],
      },
    });
    const gw = new Gateway(config, { print: () => {} });
    cleanups.push(() => gw.stop());
    const { httpPort } = await gw.start();
    const base = `http://127.0.0.1:${httpPort}`;
    await waitFor(() => gw.store.readAfter(0, 1000).some((r) => r.series === 'tank/temperature'), 'a stored Modbus reading');
    const temp = gw.store.readAfter(0, 1000).find((r) => r.series === 'tank/temperature')!;
    expect(temp.value).toBeCloseTo(85.3, 6);
    expect(temp.unit).toBe('Cel');
    // The rule saw it (same commit pipeline) and its action switched the pump off on the device.
    await waitFor(() => gw.store.readAfter(0, 100_000).some((r) => r.series === 'tank/pump' && r.value === false), 'the pump read back off');
    expect(mbpoll(['127.0.0.1', '-m', 'tcp', '-p', String(server.port), '-a', '1', '-t', '0', '-r', '0'])).toEqual(['0']);

    const write = await fetch(`${base}/api/modbus/write?device=tank&sensor=setpoint&value=21.5`, { method: 'POST' });
    expect(write.status).toBe(200);
    expect(mbpoll(['127.0.0.1', '-m', 'tcp', '-p', String(server.port), '-a', '1', '-t', '4', '-r', '1'])).toEqual(['215']);
    const denied = await fetch(`${base}/api/modbus/write?device=tank&sensor=temperature&value=1`, { method: 'POST' });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: string }).error).toBe('FM_ERR_MODBUS_WRITE_DENIED');
    expect((await fetch(`${base}/api/modbus/write?device=tank&sensor=setpoint&value=99999`, { method: 'POST' })).status).toBe(400);

    await waitFor(() => (gw.status().modbus as { slaves: { device: string; state: string }[] }).slaves.find((s) => s.device === 'ghost')!.state === 'offline', 'the ghost offline');
    const status = (await (await fetch(`${base}/api/status`)).json()) as { modbus: { slaves: { device: string; errors: Record<string, number>; readingsCommitted: number }[]; writes: { ok: number } } };
    expect(status.modbus.slaves.find((s) => s.device === 'ghost')!.errors.timeout).toBeGreaterThan(0);
    expect(status.modbus.slaves.find((s) => s.device === 'tank')!.readingsCommitted).toBeGreaterThan(0);
    expect(status.modbus.writes.ok).toBe(2);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(new RegExp(`fieldmesh_modbus_errors_total\\{bus="tcp:127.0.0.1:${server.port}",unit="5",device="ghost",reason="timeout"\\} [1-9]`));
    expect(text).toContain(`fieldmesh_modbus_slave_online{bus="tcp:127.0.0.1:${server.port}",unit="1",device="tank"} 1`);
    expect(text).toContain('fieldmesh_modbus_writes_total{outcome="ok"} 2');
  });
});
