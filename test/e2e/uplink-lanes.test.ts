import { afterEach, describe, expect, it } from 'vitest';
import type { Reading } from '@fieldmesh/device-sdk';
import type { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { MemoryAlertLog } from '#gateway/alerts/memory-log';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { Uplink } from '#gateway/uplink/uplink';
import { labConfig, startCloud, tempDir, waitFor } from '../cloud-bridge/cloud-fixture.js';

/**
 * The priority lane end to end: a real SQLite reading log with a 100k-reading backlog, the real
 * MQTT link, the real cloud bridge (embedded aedes, SQLite stores). A raised alert reaches the
 * cloud's alert store before the backlog drains, and the cloud's ack moves the outbox cursor.
 */
const T0 = Date.UTC(2026, 0, 1);
const noise = (n: number): Reading[] => Array.from({ length: n }, (_, i) => ({ series: 'dev1/noise', ts: T0 + i * 1000, value: Math.round(Math.sin(i * 1.7) * 100_000) / 100 }));

describe('uplink lanes against the real cloud bridge', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it('an alert raised behind a 100k-reading backlog is stored at the cloud before the backlog drains; bulk drains after', async () => {
    const tmp = tempDir('fm-lanes-');
    cleanups.push(tmp.cleanup);
    const log = new SqliteReadingLog(`${tmp.dir}/gw.db`);
    cleanups.push(() => log.close());
    log.append(noise(100_000));
    const cloud: CloudBridge = await startCloud(labConfig(`${tmp.dir}/cloud`));
    cleanups.push(() => cloud.stop());
    const alerts = new MemoryAlertLog();
    // A metered link (100 kB/s): the backlog takes seconds, so the order is the uplink's choice.
    const uplink = new Uplink({ gatewayId: 'gw-a', log, alerts, url: `mqtt://127.0.0.1:${cloud.brokerPort}`, maxBytesPerSecond: 100_000, batchReadings: 2000 });
    cleanups.push(() => uplink.stop());
    uplink.start();
    await waitFor(() => log.ackWatermark() > 0, 'first bulk ack');
    alerts.append({ type: 'raised', ruleId: 'boiler-hot', series: 'boiler/temp', severity: 'critical', condition: 'high', value: 91.5, ts: T0, reason: 'value 91.5 > high 80' }, 'gw-a');
    await waitFor(() => cloud.alerts.list('gw-a').length === 1, 'the alert at the cloud');
    const storedWhenAlertArrived = await cloud.store.count();
    expect(storedWhenAlertArrived).toBeLessThan(100_000);
    expect(cloud.alerts.list('gw-a')[0]).toMatchObject({ gateway: 'gw-a', epoch: log.epoch, seq: 1, rule: 'boiler-hot', type: 'raised', value: 91.5 });
    await waitFor(() => alerts.upstreamCursor() === 1, 'the outbox cursor moved by the cloud ack');
    await waitFor(() => log.ackWatermark() === 100_000, 'the backlog drained', 60_000);
    expect(await cloud.store.count()).toBe(100_000);
    expect(uplink.stats()).toMatchObject({ alertsSent: 1, alertsAcked: 1, alertsPending: 0 });
    expect(cloud.alertReceiver.stats).toMatchObject({ stored: 1, refused: 0 });
  }, 90_000);

  it('the cloud refuses a hostile alerts message with a nack and stores nothing', async () => {
    const tmp = tempDir('fm-lanes-');
    cleanups.push(tmp.cleanup);
    const cloud: CloudBridge = await startCloud(labConfig(`${tmp.dir}/cloud`));
    cleanups.push(() => cloud.stop());
    await cloud.alertReceiver.receive('gw-b', Buffer.from('{"v":1,"epoch":"e1","events":[{"v":1,"seq":1,"type":"raised"}]}'));
    await cloud.alertReceiver.receive('gw-b', Buffer.from('not json'));
    await cloud.alertReceiver.receive('gw-b', Buffer.from(JSON.stringify({ v: 1, epoch: 'e1', events: [{ v: 1, gateway: 'gw-x', seq: 1, alertId: 1, type: 'raised', rule: 'r', series: 'a/b', condition: 'high', severity: 'warning', value: 1, ts: 1, reason: '' }] })));
    expect(cloud.alertReceiver.stats.refused).toBe(3);
    expect(cloud.alerts.list()).toEqual([]);
  });
});
