import { connect } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { resolveCloudConfig } from '#cloud-bridge/config';
import { encodeBatch, decodeAck, type AckMessage } from '@fieldmesh/protocol';
import { tempDir, waitFor } from '../cloud-fixture.js';
import { PostgresCloudStore, redact } from '#cloud-bridge/store/postgres-cloud-store';
import type { LoggedReading } from '#gateway/store/reading-log';
import { cloudStoreContract } from '../cloud-store.contract.js';
import { freshDatabase, startPgCluster, type PgCluster } from './pg-cluster.js';

let cluster: PgCluster;
beforeAll(async () => {
  cluster = await startPgCluster();
}, 180_000);
afterAll(() => cluster?.stop());

// The same contract as the SQLite and in-memory stores (test/cloud-bridge/cloud-store.test.ts).
cloudStoreContract('postgres', async () => {
  const url = await freshDatabase(cluster);
  return { store: await PostgresCloudStore.open(url), reopen: () => PostgresCloudStore.open(url), cleanup: () => {} };
});

describe('PostgresCloudStore across bridge processes', () => {
  const batch = (first: number, n: number, series = 'dev1/temp'): LoggedReading[] =>
    Array.from({ length: n }, (_, i) => ({ seq: first + i, series, ts: 1000 * (first + i), value: first + i, unit: 'Cel' }));

  it('two stores committing overlapping batches concurrently store each reading exactly once', async () => {
    const url = await freshDatabase(cluster);
    const [a, b] = await Promise.all([PostgresCloudStore.open(url), PostgresCloudStore.open(url)]);
    try {
      // Every batch goes to both "bridges" at once (a redelivery race); overlapping ranges carry the same readings, as a gateway's resends do.
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, k) => [a, b].map((s) => s.commitBatch('gw-a', 'e1', batch(1 + k * 250, 500), k))).flat(),
      );
      const stored = results.reduce((n, r) => n + r.stored, 0);
      expect(stored).toBe(5250); // seqs 1..5250, each once
      expect(await a.count()).toBe(5250);
      const [g] = await a.gateways();
      expect(g).toMatchObject({ id: 'gw-a', ackedSeq: 5250, readings: 5250 });
      const series = await b.series();
      expect(series.reduce((n, s) => n + s.count, 0)).toBe(5250);
    } finally {
      await a.close();
      await b.close();
    }
  }, 120_000);

  it('keeps strings with NUL exactly (PostgreSQL text cannot hold NUL)', async () => {
    const store = await PostgresCloudStore.open(await freshDatabase(cluster));
    try {
      await store.commitBatch('gw', 'e', [{ seq: 1, series: 'd/s', ts: 1, value: 'a\u0000b' }, { seq: 2, series: 'd/s', ts: 2, value: '"{json}"' }], 1);
      expect((await store.readings({ limit: 10 })).map((r) => r.value)).toEqual(['a\u0000b', '"{json}"']);
      expect((await store.series())[0]!.lastValue).toBe('"{json}"');
    } finally {
      await store.close();
    }
  });

  it('`store: postgres://…` in the config makes a bridge commit real uplink batches to PostgreSQL', async () => {
    const tmp = tempDir('fm-pg-bridge-');
    const url = await freshDatabase(cluster);
    const bridge = await CloudBridge.start(resolveCloudConfig({ broker: { port: 0, auth: 'none' }, http: { port: 0 }, dataDir: tmp.dir, store: url }));
    const c = connect(`mqtt://127.0.0.1:${bridge.brokerPort}`, { clientId: 'gw-p', reconnectPeriod: 0, protocolVersion: 4 });
    try {
      await new Promise<void>((resolve, reject) => {
        c.once('connect', () => resolve());
        c.once('error', reject);
      });
      const acks: AckMessage[] = [];
      c.on('message', (_t, p) => acks.push(decodeAck(p)));
      await c.subscribeAsync('fm/g/gw-p/ack', { qos: 1 });
      const payload = encodeBatch({ gatewayId: 'gw-p', epoch: 'e1', readings: batch(1, 1000) });
      await c.publishAsync('fm/g/gw-p/batch', payload, { qos: 1 });
      await c.publishAsync('fm/g/gw-p/batch', payload, { qos: 1 });
      await waitFor(() => acks.length === 2, 'two acks');
      expect(acks.map((a) => (a.ok ? [a.stored, a.duplicates] : a.code))).toEqual([[1000, 0], [0, 1000]]);
      const direct = await PostgresCloudStore.open(url);
      expect(await direct.count()).toBe(1000);
      await direct.close();
    } finally {
      c.end(true);
      await bridge.stop();
      tmp.cleanup();
    }
  });

  it('refuses to open without a server, with a coded error and no password in it', async () => {
    await expect(PostgresCloudStore.open('postgres://u:secret@127.0.0.1:1/x')).rejects.toMatchObject({ code: 'FM_ERR_CLOUD_STORE_OPEN' });
    await expect(PostgresCloudStore.open('postgres://u:secret@127.0.0.1:1/x')).rejects.not.toThrow(/secret/);
    expect(redact('postgres://u:secret@h:1/db')).toBe('postgres://u:***@h:1/db');
  });
});
