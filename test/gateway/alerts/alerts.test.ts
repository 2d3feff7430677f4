import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '#device-sdk/clock';
import { Alerts, type LocalPublish } from '#gateway/alerts/alerts';
import { decodeAlertEvent, type AlertEvent } from '#gateway/alerts/event';
import { MemoryAlertLog } from '#gateway/alerts/memory-log';
import { SqliteAlertLog } from '#gateway/alerts/sqlite-log';
import { RulesEngine } from '#gateway/rules/engine';
import { waitFor } from '../../wait-for.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const waitUntil = <T>(what: string, f: () => T | undefined, ms = 15_000) => waitFor(f, what, ms, { everyMs: 10 });

async function broker(): Promise<{ publish: LocalPublish; url: string }> {
  const aedes = await Aedes.createBroker();
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => aedes.close(() => server.close(() => r()))));
  const publish: LocalPublish = (topic, payload, o) =>
    aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: o.qos, retain: o.retain, dup: false }, () => {});
  return { publish, url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function subscriber(url: string, topic: string): Promise<{ got: Array<{ topic: string; e: AlertEvent; retain: boolean }>; client: MqttClient }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0 });
  cleanups.push(() => new Promise<void>((r) => client.end(true, {}, () => r())));
  const got: Array<{ topic: string; e: AlertEvent; retain: boolean }> = [];
  client.on('message', (t, p, packet) => got.push({ topic: t, e: decodeAlertEvent(p.toString()), retain: packet.retain }));
  await client.subscribeAsync(topic, { qos: 1 });
  return { got, client };
}

describe('alerts on the local broker (real aedes, real mqtt.js)', () => {
  it('publishes raise and clear at once on fm/alerts/<gw>/<rule>/<series>, retained for late subscribers', async () => {
    const { publish, url } = await broker();
    const { got } = await subscriber(url, 'fm/alerts/gw-a/#');
    const db = new Database(':memory:');
    cleanups.push(() => void db.close());
    const log = new SqliteAlertLog(db);
    const alerts = new Alerts({ gatewayId: 'gw-a', log, publish });
    const engine = new RulesEngine({
      rules: [{ id: 'boiler-hot', kind: 'threshold', series: 'boiler/temp', high: 80, hysteresis: 2, severity: 'critical' }],
      clock: new ManualClock(),
      onTransition: alerts.handle,
    });
    engine.evaluate({ series: 'boiler/temp', ts: 1000, value: 85 });
    await waitUntil('raise', () => (got.length >= 1 ? true : undefined));
    expect(got[0]!.topic).toBe('fm/alerts/gw-a/boiler-hot/boiler/temp');
    expect(got[0]!.e).toMatchObject({ type: 'raised', value: 85, severity: 'critical', alertId: 1, gateway: 'gw-a' });
    engine.evaluate({ series: 'boiler/temp', ts: 2000, value: 70 });
    await waitUntil('clear', () => (got.length >= 2 ? true : undefined));
    expect(got[1]!.e).toMatchObject({ type: 'cleared', alertId: 1, value: 70 });

    engine.evaluate({ series: 'boiler/temp', ts: 3000, value: 90 });
    const late = await subscriber(url, 'fm/alerts/+/boiler-hot/#');
    const retained = await waitUntil('retained', () => late.got[0]);
    expect(retained).toMatchObject({ retain: true, e: { type: 'raised', value: 90, alertId: 3 } });

    // Nothing was acked upstream (no uplink): every event is still pending for the priority lane.
    expect(log.pendingUpstream(10).map((e) => e.type)).toEqual(['raised', 'cleared', 'raised']);
    expect(alerts.stats()).toMatchObject({ raised: 2, cleared: 1, published: 3, publishFailures: 0, open: 1 });
    expect(alerts.openConditions()).toEqual([{ ruleId: 'boiler-hot', series: 'boiler/temp', condition: 'high' }]);
  });

  it('hands every stored event to the outbox listener, and survives a failing store or publish', () => {
    const log = new MemoryAlertLog();
    const queued: number[] = [];
    log.onQueued((e) => queued.push(e.seq));
    let fail = true;
    const alerts = new Alerts({
      gatewayId: 'gw',
      log,
      publish: () => {
        if (fail) throw new Error('broker down');
      },
    });
    const tr = { type: 'raised' as const, ruleId: 'r', series: 'a/b', severity: 'info' as const, condition: 'high' as const, value: 1, ts: 1, reason: 'x' };
    alerts.handle(tr);
    fail = false;
    alerts.handle({ ...tr, type: 'cleared' });
    expect(queued).toEqual([1, 2]);
    expect(alerts.stats()).toMatchObject({ published: 1, publishFailures: 1 });

    const broken = new Alerts({
      gatewayId: 'gw',
      log: { ...log, append: () => { throw new Error('disk full'); }, open: () => [] } as unknown as MemoryAlertLog,
      publish: () => {},
    });
    const seen: AlertEvent[] = [];
    broken.onEvent((e) => seen.push(e));
    broken.handle(tr);
    expect(seen[0]!.seq).toBeLessThan(0);
    expect(broken.stats()).toMatchObject({ storeFailures: 1, published: 1 });
  });

  it('refuses a gateway id that cannot be a topic level', () => {
    expect(() => new Alerts({ gatewayId: 'gw/+', log: new MemoryAlertLog(), publish: () => {} })).toThrow(
      expect.objectContaining({ code: 'FM_ERR_ALERT_BAD_GATEWAY_ID' }),
    );
  });
});
