/**
 * What the fleet agent needs of the uplink session: its own desired topic subscribed at every
 * connect (messages handed over, other topics not), and a retained reported state that reaches
 * the broker after every reconnect. On the in-memory link and on the real MQTT link to aedes.
 */
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@fieldmesh/device-sdk';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import { MemoryUplinkLink } from '#gateway/uplink/memory-uplink-link';
import { Uplink } from '#gateway/uplink/uplink';
import { waitFor } from '../../wait-for.js';

const flush = () => new Promise((r) => setImmediate(r));

describe('uplink topics for the fleet agent', () => {
  it('memory link: subscribes the extra topic, delivers only it, republishes the retained message after a reconnect', async () => {
    const clock = new ManualClock();
    const link = new MemoryUplinkLink();
    const uplink = new Uplink({ gatewayId: 'gw', log: new MemoryReadingLog(), url: 'mqtt://m:1', clock, link, backoffMinMs: 100, backoffMaxMs: 100, random: () => 0.5 });
    const got: string[] = [];
    uplink.subscribe('fm/g/gw/fleet/desired', (p) => got.push(p.toString()));
    // Offline: kept, not sent.
    expect(await uplink.publishRetained('fm/g/gw/fleet/reported', 'r1')).toBe(false);
    uplink.start();
    await flush();
    expect(link.lastOpen?.topics).toEqual(['fm/g/gw/fleet/desired']);
    expect(link.on('fm/g/gw/fleet/reported').map((m) => [m.payload.toString(), m.retain])).toEqual([['r1', true]]);
    expect(link.deliver('fm/g/gw/fleet/desired', 'd1')).toBe(true);
    expect(link.deliver('fm/g/other/fleet/desired', 'nope')).toBe(false);
    await flush();
    expect(got).toEqual(['d1']);
    expect(await uplink.publishRetained('fm/g/gw/fleet/reported', 'r2')).toBe(true);
    link.cut();
    await flush();
    clock.advance(200);
    await flush();
    // Only the newest retained message, again, on the new session.
    expect(link.on('fm/g/gw/fleet/reported').map((m) => m.payload.toString())).toEqual(['r1', 'r2', 'r2']);
    await uplink.stop();
  });

  it('real MQTT link: the retained desired state arrives at connect; the reported state is retained at the broker', async () => {
    const aedes = await Aedes.createBroker();
    const server = createServer((s) => aedes.handle(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      await new Promise<void>((r) => aedes.publish({ cmd: 'publish', topic: 'fm/g/gw-m/fleet/desired', payload: Buffer.from('{"serial":1}'), qos: 1, retain: true, dup: false }, () => r()));
      const reported: string[] = [];
      aedes.on('publish', (p) => {
        if (p.topic === 'fm/g/gw-m/fleet/reported') reported.push(`${p.retain}:${p.payload.toString()}`);
      });
      const uplink = new Uplink({ gatewayId: 'gw-m', log: new MemoryReadingLog(), url: `mqtt://127.0.0.1:${port}` });
      const got: string[] = [];
      uplink.subscribe('fm/g/gw-m/fleet/desired', (p) => got.push(p.toString()));
      uplink.start();
      await waitFor(() => got.length === 1, 'retained desired delivered');
      expect(got).toEqual(['{"serial":1}']);
      expect(await uplink.publishRetained('fm/g/gw-m/fleet/reported', 'state')).toBe(true);
      expect(reported).toEqual(['true:state']);
      await uplink.stop();
    } finally {
      await new Promise<void>((r) => aedes.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
