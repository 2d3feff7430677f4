import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger, systemClock } from '@fieldmesh/device-sdk';
import { RelayChannel } from '#gateway/relay/relay-channel';
import { FRAME_ACK, FRAME_BATCH, FRAME_REFUSE } from '#gateway/relay/relay-frame';
import { MemoryRelayUpstream } from '#gateway/relay/memory-relay-upstream';
import { RelayServer } from '#gateway/relay/relay-server';
import { decodeBatchHeader, encodeBatch, encodeAck } from '@fieldmesh/protocol';
import { waitFor } from '../../cloud-bridge/cloud-fixture.js';
import { credentials } from './relay-fixture.js';

const batch = (gatewayId: string, first: number, n = 10) =>
  encodeBatch({ gatewayId, epoch: 'e1', readings: Array.from({ length: n }, (_, i) => ({ seq: first + i, series: 'dev1/t', ts: 1_700_000_000_000, value: i })) });

/** The serving side on real TCP with the in-memory upstream twin (no broker). */
describe('relay server', () => {
  const stops: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const s of stops.reverse()) await s();
    stops.length = 0;
  });

  async function setup(opts: { window?: number; maxQueuedPerOrigin?: number; online?: boolean } = {}) {
    const upstream = new MemoryRelayUpstream();
    const server = new RelayServer({ selfId: 'gw-b', credentials: credentials(), upstream, clock: systemClock, logger: silentLogger, window: opts.window ?? 2, maxQueuedPerOrigin: opts.maxQueuedPerOrigin ?? 32 });
    const port = await server.listen(0, '127.0.0.1');
    stops.push(() => server.stop());
    if (opts.online !== false) upstream.setOnline(true);
    const origin = async (id: string) => {
      const ch = new RelayChannel(connect({ host: '127.0.0.1', port }), id, credentials(), 'origin');
      const got = { acks: [] as Buffer[], refused: [] as string[], closed: null as string | null, hello: false };
      ch.open({
        hello: () => (got.hello = true),
        frame: (f) => (f.type === FRAME_ACK ? got.acks.push(f.body) : f.type === FRAME_REFUSE ? got.refused.push(f.body.toString()) : undefined),
        close: (r) => (got.closed = r),
      });
      stops.push(() => ch.close('test over'));
      await waitFor(() => got.hello || got.closed !== null, 'hello');
      return { ch, got };
    };
    return { upstream, server, origin };
  }

  it('keeps at most `window` relayed batches in flight upstream, in order, and returns each ack to its origin', async () => {
    const { upstream, server, origin } = await setup({ window: 2 });
    const a = await origin('gw-a');
    for (let i = 0; i < 6; i++) a.ch.send(FRAME_BATCH, batch('gw-a', 1 + i * 10));
    await waitFor(() => server.snapshot().queued === 4, 'four queued behind the window');
    expect(upstream.published).toHaveLength(2);
    for (let k = 0; k < 6; k++) {
      await waitFor(() => upstream.published.length > k, `batch ${k} published`);
      expect(server.snapshot().inFlight).toBeLessThanOrEqual(2);
      const h = decodeBatchHeader(upstream.published[k]!.batch);
      expect(h.firstSeq).toBe(1 + k * 10);
      upstream.ack('gw-a', encodeAck({ v: 1, ok: true, epoch: 'e1', firstSeq: h.firstSeq, lastSeq: h.lastSeq, stored: 10, duplicates: 0 }));
    }
    await waitFor(() => a.got.acks.length === 6, 'six acks back at the origin');
    expect(server.snapshot()).toMatchObject({ origins: ['gw-a'], batchesForwarded: 6, acksReturned: 6, inFlight: 0, queued: 0 });
  });

  it('cuts off an origin that sends another gateway\'s batch, or floods its queue; counts both', async () => {
    const { server, origin } = await setup({ window: 1, maxQueuedPerOrigin: 3 });
    const a = await origin('gw-a');
    a.ch.send(FRAME_BATCH, batch('gw-x', 1));
    await waitFor(() => a.got.closed !== null, 'closed for a foreign batch');
    const c = await origin('gw-c');
    for (let i = 0; i < 8; i++) c.ch.send(FRAME_BATCH, batch('gw-c', 1 + i * 10));
    await waitFor(() => c.got.closed !== null, 'closed for flooding');
    const refused = server.snapshot().refused;
    expect(refused.FM_ERR_RELAY_ORIGIN).toBe(1);
    expect(refused.FM_ERR_RELAY_BUSY).toBe(1);
  });

  it('refuses origins while its own uplink is down, and tells connected ones when it goes down', async () => {
    const { upstream, origin } = await setup({ online: false });
    const early = await origin('gw-a');
    await waitFor(() => early.got.refused.length === 1, 'refused');
    expect(early.got.refused[0]).toContain('FM_ERR_RELAY_UPLINK_DOWN');
    upstream.setOnline(true);
    const a = await origin('gw-a');
    expect(a.got.closed).toBeNull();
    upstream.setOnline(false);
    await waitFor(() => a.got.refused.length === 1, 'told when the uplink goes');
  });
});
