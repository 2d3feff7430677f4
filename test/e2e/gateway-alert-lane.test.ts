import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { encodeSenml } from '@fieldmesh/device-sdk';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { Gateway } from '#gateway/gateway';
import { labConfig, startCloud, tempDir, waitFor } from '../cloud-bridge/cloud-fixture.js';

/**
 * The composition root wires the AlertOutbox into the uplink: a reading over a threshold, sent by
 * a device over MQTT to the real gateway, raises an alert that the real cloud bridge stores, and
 * the cloud's ack moves the gateway's outbox cursor. `/metrics` shows the drain figures.
 */
describe('gateway alert lane end to end', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it('a raised alert reaches the cloud alert store; the outbox cursor moves; /metrics has the drain rate and ETA', async () => {
    const tmp = tempDir('fm-gw-lane-');
    cleanups.push(tmp.cleanup);
    const cloud = await startCloud(labConfig(`${tmp.dir}/cloud`));
    cleanups.push(() => cloud.stop());
    const config = parseGatewayConfig({
      id: 'gw-lane',
      dataDir: `${tmp.dir}/gw`,
      broker: { port: 0, host: '127.0.0.1', auth: 'none' },
      http: { port: 0, host: '127.0.0.1' },
      uplink: { url: `mqtt://127.0.0.1:${cloud.brokerPort}` },
      rules: [{ id: 'boiler-hot', kind: 'threshold', series: 'boiler/temp', high: 80, hysteresis: 2, severity: 'critical' }],
    });
    const gw = new Gateway(config, { print: () => {} });
    cleanups.push(() => gw.stop());
    const started = await gw.start();
    const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${started.brokerPort}`, { clientId: 'boiler', reconnectPeriod: 0 });
    cleanups.push(() => dev.endAsync());
    const now = Date.now();
    await dev.publishAsync('fm/d/boiler/senml', encodeSenml([{ series: 'boiler/temp', ts: now, value: 70 }, { series: 'boiler/temp', ts: now + 1, value: 91 }]), { qos: 1 });
    await waitFor(() => cloud.alerts.list('gw-lane').length === 1, 'the alert at the cloud');
    expect(cloud.alerts.list('gw-lane')[0]).toMatchObject({ rule: 'boiler-hot', type: 'raised', severity: 'critical', value: 91 });
    await waitFor(() => gw.localProcessing.alertOutbox.upstreamCursor() === 1, 'the outbox cursor');
    await waitFor(async () => (await cloud.store.count()) === 2, 'the readings at the cloud');
    const metrics = await (await fetch(`http://127.0.0.1:${started.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^fieldmesh_uplink_drain_readings_per_second \d/m);
    expect(metrics).toMatch(/^fieldmesh_uplink_backlog_eta_seconds 0$/m);
    expect(metrics).toMatch(/^fieldmesh_uplink_alerts_acked_total 1$/m);
    const status = (await (await fetch(`http://127.0.0.1:${started.httpPort}/api/status`)).json()) as { uplink: Record<string, unknown> };
    expect(status.uplink).toMatchObject({ alertsAcked: 1, alertsPending: 0, etaSeconds: 0 });
    expect(typeof status.uplink.drainRate).toBe('number');
  });
});
