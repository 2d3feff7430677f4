import { afterEach, describe, expect, it } from 'vitest';
import { resolveCloudConfig } from '#cloud-bridge/config';
import { ExternalCloudBridge } from '#cloud-bridge/external-broker/external-cloud-bridge';
import { MemoryAlertLog } from '#gateway/alerts/memory-log';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import { Uplink } from '#gateway/uplink/uplink';
import { tempDir, waitFor } from '../cloud-bridge/cloud-fixture.js';
import { promtoolCheck, sample } from '../cloud-bridge/observability/promtool.js';
import { startMosquitto } from '../cloud-bridge/scale/mosquitto.js';

/** The alerts lane behind a real Mosquitto: the bridge takes alerts through the shared subscription and acks them. */
describe('uplink alerts lane behind an external broker', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('alerts and readings from the real uplink are stored and acked through Mosquitto', async () => {
    const mosquitto = await startMosquitto();
    cleanups.push(() => mosquitto.stop());
    const tmp = tempDir('fm-ext-lane-');
    cleanups.push(() => tmp.cleanup());
    const bridge = await ExternalCloudBridge.start(resolveCloudConfig({ broker: { url: mosquitto.url }, http: { port: 0 }, dataDir: tmp.dir }));
    cleanups.push(() => bridge.stop());
    const log = new MemoryReadingLog();
    log.append(Array.from({ length: 1000 }, (_, i) => ({ series: 'dev1/temp', ts: 1000 + i, value: i })));
    const alerts = new MemoryAlertLog();
    alerts.append({ type: 'raised', ruleId: 'hot', series: 'dev1/temp', severity: 'warning', condition: 'high', value: 99, ts: 2000, reason: 'value 99 > high 90' }, 'gw-x');
    const uplink = new Uplink({ gatewayId: 'gw-x', log, alerts, url: mosquitto.url });
    cleanups.push(() => uplink.stop());
    uplink.start();
    await waitFor(() => alerts.upstreamCursor() === 1 && log.ackWatermark() === 1000, 'alert and readings acked');
    expect(bridge.alerts.list('gw-x')).toHaveLength(1);
    expect(await bridge.store.count()).toBe(1000);
    // The external-broker root serves the same /metrics and /api/alerts as the embedded one.
    const auth = { headers: { authorization: `Bearer ${bridge.live.issuedToken}` } };
    const metrics = await (await fetch(`http://127.0.0.1:${bridge.httpPort}/metrics`, auth)).text();
    expect(promtoolCheck(metrics)).toEqual({ ok: true, output: '' });
    expect(sample(metrics, 'fieldmesh_cloud_readings_committed_total')).toBe(1000);
    expect(sample(metrics, 'fieldmesh_cloud_alert_events_stored_total')).toBe(1);
    expect(sample(metrics, 'fieldmesh_cloud_gateway_alerts_open{gateway="gw-x"}')).toBe(1);
    expect(metrics).not.toContain('fieldmesh_cloud_gateways_connected'); // the external broker sees connections, not this bridge
    const open = (await (await fetch(`http://127.0.0.1:${bridge.httpPort}/api/alerts?state=open`, auth)).json()) as { open: Array<{ gateway: string; rule: string }> };
    expect(open.open.map((a) => [a.gateway, a.rule])).toEqual([['gw-x', 'hot']]);
  }, 60_000);
});
