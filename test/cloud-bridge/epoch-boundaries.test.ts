import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { connectGateway, labConfig, startCloud, tempDir, waitFor } from './cloud-fixture.js';

const epochs = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'protocol', 'vectors', 'identifiers', 'epochs.json'), 'utf8')) as { valid: string[]; invalid: string[] };

const alertEvent = (seq: number) => ({ v: 1, seq, alertId: seq, type: 'raised', rule: 'boiler-hot', series: 'boiler/temp', condition: 'high', severity: 'critical', value: 91, ts: 1_767_225_600_000, reason: 'value 91 > high 80' });

/** Every way an epoch reaches the cloud from outside refuses one outside FORMAT.md §3.2, as the route's own refusal. */
describe('cloud: epochs from outside', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  async function cloudWithReadings(): Promise<{ cloud: CloudBridge; base: string; auth: Record<string, string> }> {
    const tmp = tempDir('fm-cloud-epoch-');
    cleanups.push(tmp.cleanup);
    const cloud = await startCloud(labConfig(tmp.dir));
    cleanups.push(() => cloud.stop());
    await cloud.store.commitBatch('gw-a', '0123456789abcdef', [{ seq: 1, series: 'dev1/temp', ts: 1_767_225_600_000, value: 1 }], Date.now());
    return { cloud, base: `http://127.0.0.1:${cloud.httpPort}`, auth: { authorization: `Bearer ${cloud.live.issuedToken}` } };
  }

  it('HTTP: an alert acknowledgement and a reading cursor answer 400, not 500, for each invalid epoch', async () => {
    const { base, auth } = await cloudWithReadings();
    const ack = (epoch: string) => fetch(`${base}/api/alerts/ack`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ gateway: 'gw-a', epoch, alertId: 1 }) });
    const page = (epoch: string) => fetch(`${base}/api/readings?after=${encodeURIComponent(`1767225500000~gw-a~${epoch}~1`)}`, { headers: auth });
    for (const v of epochs.invalid) {
      const a = await ack(v);
      expect(a.status, JSON.stringify(v)).toBe(400);
      expect(((await a.json()) as { error: string }).error).toContain('epoch must be 1-64 of letters, digits, . _ -');
      const p = await page(v);
      expect(p.status, JSON.stringify(v)).toBe(400);
      expect(((await p.json()) as { error: string }).error).toContain('after must be');
    }
    // Valid ones get past the check: no such alert (404), a page of what follows the cursor (200).
    for (const v of epochs.valid) {
      expect((await ack(v)).status, v).toBe(404);
      const p = await page(v);
      expect(p.status, v).toBe(200);
      expect(((await p.json()) as { readings: unknown[] }).readings).toHaveLength(1);
    }
  });

  it('alerts lane: an invalid epoch is nacked (FM_ERR_CLOUD_ALERTS) without echoing it, and nothing is stored', async () => {
    const { cloud } = await cloudWithReadings();
    const gw: MqttClient = await connectGateway(cloud.brokerPort, 'gw-a');
    cleanups.push(() => void gw.end(true));
    const acks: Array<Record<string, unknown>> = [];
    gw.on('message', (_t, p) => acks.push(JSON.parse(p.toString()) as Record<string, unknown>));
    await gw.subscribeAsync('fm/g/gw-a/ack', { qos: 1 });
    for (const v of epochs.invalid) await gw.publishAsync('fm/g/gw-a/alerts', JSON.stringify({ v: 1, epoch: v, events: [alertEvent(1)] }), { qos: 1 });
    await waitFor(() => acks.length === epochs.invalid.length, 'a nack for each');
    for (const a of acks) {
      expect(a).toMatchObject({ ok: false, lane: 'alerts', code: 'FM_ERR_CLOUD_ALERTS', reason: 'epoch must be 1-64 of letters, digits, . _ -' });
      expect(a).not.toHaveProperty('epoch');
    }
    expect(cloud.alerts.list('gw-a')).toEqual([]);
    await gw.publishAsync('fm/g/gw-a/alerts', JSON.stringify({ v: 1, epoch: '0123456789abcdef', events: [alertEvent(1)] }), { qos: 1 });
    await waitFor(() => acks.length === epochs.invalid.length + 1, 'the valid one acked');
    expect(acks.at(-1)).toMatchObject({ ok: true, lane: 'alerts', epoch: '0123456789abcdef', firstSeq: 1, lastSeq: 1, stored: 1 });
  });
});
