/**
 * Serial ingest inside the real Gateway (composition root): a GPS on a socat pty is stored in
 * the reading log and shows in /metrics and /api/status; a missing port does not stop the gateway.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { Gateway } from '#gateway/gateway';
import { nmeaSentence } from '#hardware/sensors/index';
import { waitFor } from './fakes.js';
import { haveSocat, PtyPair } from './pty.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('Gateway with a serial section', () => {
  it('stores readings from a serial GPS, exposes serial metrics and status; a missing port is retried, not fatal', async () => {
    expect(haveSocat(), 'socat must be installed').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'fm-gw-serial-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const pty = new PtyPair(join(dir, 'usb-u-blox_GNSS-if00'), join(dir, 'gps-side'));
    await pty.start();
    cleanups.push(() => pty.stop());
    const missing = join(dir, 'usb-not-there-if00');
    const config = parseGatewayConfig({
      id: 'gw-s',
      dataDir: join(dir, 'data'),
      broker: { port: 0, host: '127.0.0.1', auth: 'none' },
      http: { port: 0, host: '127.0.0.1' },
      serial: [
        { path: pty.device, baud: 9600, profile: 'nmea0183', device: 'gps1' },
        { path: missing, baud: 9600, profile: 'pms5003', device: 'air1' },
      ],
    });
    const gw = new Gateway(config, { print: () => {} });
    cleanups.push(() => gw.stop());
    const started = await gw.start();
    const base = `http://127.0.0.1:${started.httpPort}`;
    await waitFor(() => ((gw.status().serial as { totals: { open: number } } | null)?.totals.open ?? 0) === 1, 'GPS port open');
    const fd = openSync(pty.sensor, 'w');
    writeSync(fd, nmeaSentence('GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,'));
    closeSync(fd);
    await waitFor(() => gw.store.lastSeq() >= 6, 'GGA readings stored');
    expect(gw.store.readAfter(0, 100).map((r) => r.series).sort()).toEqual(['gps1/alt', 'gps1/fix', 'gps1/hdop', 'gps1/lat', 'gps1/lon', 'gps1/satellites']);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain(`fieldmesh_serial_readings_total{port="${pty.device}",device="gps1"} 6`);
    expect(text).toContain(`fieldmesh_serial_port_open{port="${missing}",device="air1",profile="pms5003"} 0`);
    const status = (await (await fetch(`${base}/api/status`)).json()) as { serial: { ports: { path: string; lastError?: { code: string } }[] } };
    expect(status.serial.ports.find((p) => p.path === missing)!.lastError!.code).toBe('FM_ERR_SERIAL_MISSING');
  });
});
