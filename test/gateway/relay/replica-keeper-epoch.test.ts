import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger, systemClock } from '@fieldmesh/device-sdk';
import { RelayChannel } from '#gateway/relay/relay-channel';
import { FRAME_REPLICA_ACK, FRAME_REPLICA_OPEN } from '#gateway/relay/relay-frame';
import { StaticRelayPeers } from '#gateway/relay/relay-peers';
import { RelayServer } from '#gateway/relay/relay-server';
import { ReplicaKeeper } from '#gateway/relay/replica-keeper';
import { SqliteReplicaStore } from '#gateway/relay/replica-store';
import { tempDir, waitFor } from '../../cloud-bridge/cloud-fixture.js';
import { credentials } from './relay-fixture.js';

const epochs = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'protocol', 'vectors', 'identifiers', 'epochs.json'), 'utf8')) as { valid: string[]; invalid: string[] };

/** A buddy's replica keeper behind a real relay server on TCP, fed by an origin's replication channel. */
describe('replica keeper: the epoch an origin names', () => {
  const stops: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const s of stops.reverse()) await s();
    stops.length = 0;
  });

  async function setup() {
    const tmp = tempDir('fm-replica-epoch-');
    stops.push(tmp.cleanup);
    const store = new SqliteReplicaStore(join(tmp.dir, 'replica.db'));
    stops.push(() => store.close());
    const server = new RelayServer({ selfId: 'gw-b', credentials: credentials(), upstream: null, clock: systemClock, logger: silentLogger });
    const keeper = new ReplicaKeeper({ store, server, peers: new StaticRelayPeers(() => []), clock: systemClock, logger: silentLogger, commitGroupMs: 0 });
    const port = await server.listen(0, '127.0.0.1');
    stops.push(() => server.stop());
    const origin = async () => {
      const ch = new RelayChannel(connect({ host: '127.0.0.1', port }), 'gw-a', credentials(), 'origin');
      const got = { acks: [] as Array<Record<string, unknown>>, closed: null as string | null, hello: false };
      ch.open(
        {
          hello: () => (got.hello = true),
          frame: (f) => void (f.type === FRAME_REPLICA_ACK && got.acks.push(JSON.parse(f.body.toString()) as Record<string, unknown>)),
          close: (r) => (got.closed = r),
        },
        'replicate',
      );
      stops.push(() => ch.close('test over'));
      await waitFor(() => got.hello || got.closed !== null, 'hello');
      return { ch, got };
    };
    return { store, keeper, origin };
  }

  const open = (epoch: string) => Buffer.from(JSON.stringify({ epoch, ackedSeq: 0 }));

  it('opens a replica for every valid epoch and refuses every invalid one, storing nothing of it', async () => {
    const { store, keeper, origin } = await setup();
    for (const v of epochs.valid) {
      const a = await origin();
      a.ch.send(FRAME_REPLICA_OPEN, open(v));
      await waitFor(() => a.got.acks.length > 0 || a.got.closed !== null, `answer to ${v}`);
      expect(a.got.acks, JSON.stringify(v)).toEqual([{ epoch: v, storedSeq: 0 }]);
      a.ch.close('next');
    }
    expect(keeper.stats.refused).toBe(0);
    for (const v of epochs.invalid) {
      const a = await origin();
      a.ch.send(FRAME_REPLICA_OPEN, open(v));
      await waitFor(() => a.got.closed !== null, `refusal of ${JSON.stringify(v)}`);
      expect(a.got.acks, JSON.stringify(v)).toEqual([]);
    }
    expect(keeper.stats.refused).toBe(epochs.invalid.length);
    expect(store.origins().map((o) => o.epoch).sort()).toEqual([...epochs.valid].sort());
  });
});
