import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '#device-sdk/clock';
import { SqliteReplicaStore } from '#gateway/relay/replica-store';
import { tempDir } from '../../cloud-bridge/cloud-fixture.js';

describe('replica store time', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it('stamps origins with the injected clock: forgetEmpty goes by that clock, not the host time', () => {
    const t = tempDir('fm-replica-clock-');
    cleanups.push(t.cleanup);
    // Years before the host's time: a stamp taken from the real clock would be far later.
    const clock = new ManualClock(Date.UTC(2001, 0, 1));
    const store = new SqliteReplicaStore(join(t.dir, 'replicas.db'), clock);
    cleanups.unshift(() => store.close());
    store.open('gw-a', 'e1', 0);
    const stampedAt = clock.now();
    clock.advance(60_000);
    store.forgetEmpty(stampedAt);
    expect(store.origins().map((o) => o.origin)).toEqual(['gw-a']);
    store.forgetEmpty(stampedAt + 1);
    expect(store.origins()).toEqual([]);
  });
});
