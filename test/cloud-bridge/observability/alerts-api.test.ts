import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { connectGateway, labConfig, startCloud, tempDir, waitFor } from '../cloud-fixture.js';

const event = (seq: number, type: 'raised' | 'cleared', alertId: number, ts: number, over: Record<string, unknown> = {}) => ({
  v: 1,
  seq,
  alertId,
  type,
  rule: 'boiler-hot',
  series: 'boiler/temp',
  condition: 'high',
  severity: 'critical',
  value: type === 'raised' ? 91 : 70,
  ts,
  reason: type === 'raised' ? 'value 91 > high 80' : 'value 70 back under 78',
  ...over,
});


describe('cloud /api/alerts and acknowledgements', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it('lists open alerts and history per gateway; a token holder acknowledges one, recorded with who and when, streamed live and kept across a restart', async () => {
    const tmp = tempDir('fm-alerts-api-');
    cleanups.push(tmp.cleanup);
    let cloud: CloudBridge | undefined = await startCloud(labConfig(tmp.dir));
    cleanups.push(() => cloud?.stop());
    const token = cloud.live.issuedToken!;
    // Every cloud route but /healthz takes the token (http-access.ts).
    const auth = { headers: { authorization: `Bearer ${token}` } };
    const base = () => `http://127.0.0.1:${cloud!.httpPort}`;
    const gw = await connectGateway(cloud.brokerPort, 'gw-a');
    cleanups.push(() => void gw.end(true));
    const t0 = Date.now() - 60_000;
    await gw.publishAsync('fm/g/gw-a/alerts', JSON.stringify({ v: 1, epoch: 'e1', events: [event(1, 'raised', 1, t0), event(2, 'raised', 2, t0 + 1000, { rule: 'tank-low', series: 'tank/level', condition: 'low', severity: 'warning' }), event(3, 'cleared', 1, t0 + 2000)] }), { qos: 1 });
    await waitFor(() => cloud!.alerts.list('gw-a').length === 3, 'three alert events stored');

    const all = (await (await fetch(`${base()}/api/alerts`, auth)).json()) as { open: Array<Record<string, unknown>>; history: Array<Record<string, unknown>> };
    expect(all.open.map((a) => [a.gateway, a.epoch, a.alertId, a.rule, a.ack])).toEqual([['gw-a', 'e1', 2, 'tank-low', null]]);
    expect(all.history.map((e) => [e.seq, e.type])).toEqual([[3, 'cleared'], [2, 'raised'], [1, 'raised']]);
    expect(((await (await fetch(`${base()}/api/alerts?gateway=gw-b`, auth)).json()) as typeof all)).toEqual({ open: [], history: [] });
    const openOnly = (await (await fetch(`${base()}/api/alerts?state=open&gateway=gw-a`, auth)).json()) as Record<string, unknown>;
    expect(Object.keys(openOnly)).toEqual(['open']);
    expect(((await (await fetch(`${base()}/api/alerts?limit=1`, auth)).json()) as typeof all).history).toHaveLength(1);
    expect(((await (await fetch(`${base()}/api/alerts?from=${t0 + 500}&to=${t0 + 1500}`, auth)).json()) as typeof all).history.map((e) => e.seq)).toEqual([2]);
    for (const bad of ['state=closed', 'gateway=..%2F', 'limit=0', 'limit=abc', 'nope=1']) {
      const r = await fetch(`${base()}/api/alerts?${bad}`, auth);
      expect(r.status, bad).toBe(400);
      expect(((await r.json()) as { error: string }).error.length).toBeGreaterThan(5);
    }

    // A live subscriber sees the acknowledgement.
    const ws = new WebSocket(`ws://127.0.0.1:${cloud.httpPort}/live?token=${token}&kinds=alerts`);
    cleanups.push(() => ws.terminate());
    const liveEvents: Array<Record<string, unknown>> = [];
    ws.on('message', (d) => liveEvents.push(JSON.parse(d.toString()) as Record<string, unknown>));
    await waitFor(() => liveEvents.some((e) => e.type === 'hello'), 'live hello');

    const ack = (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }) =>
      fetch(`${base()}/api/alerts/ack`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
    const ref = { gateway: 'gw-a', epoch: 'e1', alertId: 2 };
    expect((await ack(ref, { 'content-type': 'application/json' })).status).toBe(401);
    expect((await ack(ref, { authorization: 'Bearer not-a-token', 'content-type': 'application/json' })).status).toBe(401);
    // The dashboard's cookie reads, but does not acknowledge: a cross-site form could send it.
    expect((await ack(ref, { cookie: `fm_token=${token}`, 'content-type': 'application/json' })).status).toBe(401);
    expect((await fetch(`${base()}/api/alerts`, { headers: { cookie: `fm_token=${token}` } })).status).toBe(200);
    expect((await ack(ref, { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await ack('{not json')).status).toBe(400);
    expect((await ack({ ...ref, alertId: 'two' })).status).toBe(400);
    expect((await ack({ gateway: 'gw-a', epoch: 'e1', alertId: 3 })).status).toBe(404); // seq 3 is a clear, not an alert
    expect((await ack({ ...ref, pad: 'x'.repeat(10_000) })).status).toBe(413);
    expect((await fetch(`${base()}/api/alerts/ack`, auth)).status).toBe(404);
    const before = Date.now();
    const r = await ack(ref);
    expect(r.status).toBe(200);
    const acked = (await r.json()) as { ack: { by: string; at: number } };
    expect(acked).toMatchObject({ ...ref, ack: { by: 'default' } });
    expect(acked.ack.at).toBeGreaterThanOrEqual(before);
    // A second acknowledgement keeps the first.
    expect(((await (await ack(ref)).json()) as typeof acked).ack).toEqual(acked.ack);
    await waitFor(() => liveEvents.some((e) => e.type === 'alert' && (e.alert as Record<string, unknown>).type === 'acknowledged'), 'the acknowledgement streamed live');
    expect(liveEvents.find((e) => e.type === 'alert')).toMatchObject({ gateway: 'gw-a', alert: { type: 'acknowledged', epoch: 'e1', alertId: 2, by: 'default', at: acked.ack.at } });

    // Kept across a restart of the bridge.
    gw.end(true);
    await cloud.stop();
    cloud = await startCloud(labConfig(tmp.dir));
    const after = (await (await fetch(`${base()}/api/alerts?gateway=gw-a`, auth)).json()) as typeof all;
    expect(after.open).toHaveLength(1);
    expect(after.open[0]!.ack).toEqual(acked.ack);
    expect(after.history.find((e) => e.seq === 2)!.ack).toEqual(acked.ack);

    // A re-flashed gateway (new epoch) starts a new alert log: the old open alert is no longer open.
    const gw2 = await connectGateway(cloud.brokerPort, 'gw-a');
    cleanups.push(() => void gw2.end(true));
    await gw2.publishAsync('fm/g/gw-a/alerts', JSON.stringify({ v: 1, epoch: 'e2', events: [event(1, 'raised', 1, Date.now(), { series: 'boiler/pressure' })] }), { qos: 1 });
    await waitFor(() => cloud!.alerts.list('gw-a').length === 4, 'the new epoch\'s alert stored');
    const reflashed = (await (await fetch(`${base()}/api/alerts?state=open`, auth)).json()) as typeof all;
    expect(reflashed.open.map((a) => [a.epoch, a.alertId, a.series])).toEqual([['e2', 1, 'boiler/pressure']]);
  });
});
