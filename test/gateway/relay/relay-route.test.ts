import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, silentLogger, systemClock } from '@fieldmesh/device-sdk';
import { MemoryRelayUpstream } from '#gateway/relay/memory-relay-upstream';
import type { RelayPeer } from '#gateway/relay/relay-peers';
import { StaticRelayPeers } from '#gateway/relay/relay-peers';
import { RelayRoute } from '#gateway/relay/relay-route';
import { RelayServer } from '#gateway/relay/relay-server';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import { decodeBatchHeader, encodeAck } from '@fieldmesh/protocol';
import { waitFor } from '../../cloud-bridge/cloud-fixture.js';
import { credentials } from './relay-fixture.js';

/**
 * The origin's decisions on a ManualClock (when to detour, through whom, when to stop), against a
 * real relay server on loopback TCP with the in-memory upstream twin.
 */
describe('relay route decisions', () => {
  const stops: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const s of stops.reverse()) await s();
    stops.length = 0;
  });

  it('waits afterMs, relays only through an up peer, moves the watermark on acks, and stops when its own uplink is back', async () => {
    const upstream = new MemoryRelayUpstream();
    const server = new RelayServer({ selfId: 'gw-b', credentials: credentials(), upstream, clock: systemClock, logger: silentLogger });
    const port = await server.listen(0, '127.0.0.1');
    stops.push(() => server.stop());
    upstream.setOnline(true);

    const clock = new ManualClock();
    const log = new MemoryReadingLog();
    log.append(Array.from({ length: 30 }, (_, i) => ({ series: 'dev1/t', ts: clock.now(), value: i })));
    let uplinkOnline = false;
    let bUplink: RelayPeer['uplink'] = 'down';
    const route = new RelayRoute({
      selfId: 'gw-a',
      log,
      uplinkOnline: () => uplinkOnline,
      peers: new StaticRelayPeers(() => [{ id: 'gw-b', host: '127.0.0.1', port, uplink: bUplink, backlog: 0 }]),
      credentials: credentials(),
      clock,
      logger: silentLogger,
      afterMs: 3000,
      batchReadings: 10,
      tickMs: 100,
    });
    route.start();
    stops.push(() => route.stop());

    clock.advance(2900);
    expect(route.snapshot().state).toBe('waiting'); // not yet afterMs
    clock.advance(200);
    expect(route.snapshot().state).toBe('waiting'); // afterMs passed, but no peer says uplink: up
    bUplink = 'up';
    clock.advance(100);
    await waitFor(() => route.snapshot().state === 'relaying', 'relaying through gw-b');
    expect(route.snapshot().via).toBe('gw-b');
    await waitFor(() => upstream.published.length === 3, 'three batches of 10');
    for (const p of upstream.published) {
      const h = decodeBatchHeader(p.batch);
      upstream.ack('gw-a', encodeAck({ v: 1, ok: true, epoch: log.epoch, firstSeq: h.firstSeq, lastSeq: h.lastSeq, stored: 10, duplicates: 0 }));
    }
    await waitFor(() => log.ackWatermark() === 30, 'watermark moved by relayed acks');
    expect(route.snapshot()).toMatchObject({ batchesAcked: 3, readingsAcked: 30 });

    uplinkOnline = true;
    clock.advance(100);
    expect(route.snapshot()).toMatchObject({ state: 'direct', via: null });
    await waitFor(() => server.snapshot().origins.length === 0, 'relay connection closed');
  });
});
