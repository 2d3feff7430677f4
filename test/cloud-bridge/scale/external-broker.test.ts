import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import { Uplink } from '#gateway/uplink/uplink';
import type { Reading } from '@fieldmesh/device-sdk';
import { tempDir, waitFor } from '../cloud-fixture.js';
import { startBridgeProcess, type BridgeProcess } from './bridge-process.js';
import { startMosquitto, type Mosquitto } from './mosquitto.js';
import { freshDatabase, startPgCluster, type PgCluster } from './pg-cluster.js';

const T0 = 1_767_225_600_000;
const readings = (from: number, n: number): Reading[] =>
  Array.from({ length: n }, (_, i) => ({ series: `dev${(from + i) % 3}/temp`, ts: T0 + (from + i) * 10, value: (from + i) / 10, unit: 'Cel' }));

describe('two bridge processes behind Mosquitto (MQTT 5 shared subscription) on PostgreSQL', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('one bridge killed (SIGKILL) mid-drain: nothing lost, nothing doubled, the batches were shared', async () => {
    const cluster: PgCluster = await startPgCluster();
    cleanups.push(() => cluster.stop());
    const mosquitto: Mosquitto = await startMosquitto();
    cleanups.push(() => mosquitto.stop());
    const url = await freshDatabase(cluster);
    const bridges: BridgeProcess[] = [];
    for (const name of ['a', 'b']) {
      const tmp = tempDir(`fm-ext-${name}-`);
      cleanups.push(() => tmp.cleanup());
      const b = await startBridgeProcess(tmp.dir, { broker: { url: mosquitto.url, shareGroup: 'fieldmesh' }, store: url });
      cleanups.push(() => b.kill('SIGKILL'));
      bridges.push(b);
    }
    const total = 60_000;
    const log = new MemoryReadingLog();
    for (let i = 0; i < total; i += 5000) log.append(readings(i, 5000));
    const uplink = new Uplink({ gatewayId: 'gw-x', log, url: mosquitto.url, batchReadings: 500, maxInFlight: 8, ackTimeoutMs: 3000, backoffMinMs: 100, backoffMaxMs: 500 });
    cleanups.push(() => uplink.stop());
    uplink.start();
    // Mid-drain: both bridges have committed some, well before the end.
    await waitFor(async () => {
      const [a, b] = await Promise.all(bridges.map((x) => x.metrics()));
      return a!.receiver.batchesCommitted > 3 && b!.receiver.batchesCommitted > 3;
    }, 'both bridges committing', 60_000);
    const before = log.ackWatermark();
    expect(before).toBeLessThan(total);
    await bridges[0]!.kill('SIGKILL');
    await waitFor(() => log.ackWatermark() === total, `drain to ${total} after the kill`, 120_000);
    const after = await bridges[1]!.metrics();
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    cleanups.push(() => db.end());
    const row = (await db.query<{ n: string; distinct_seq: string; min: string; max: string }>('SELECT count(*) AS n, count(DISTINCT seq) AS distinct_seq, min(seq), max(seq) FROM fm_readings')).rows[0]!;
    expect(row).toEqual({ n: String(total), distinct_seq: String(total), min: '1', max: String(total) });
    // Bookkeeping counted each reading once too (the series counts and the gateway's total).
    const series = (await db.query<{ s: string }>('SELECT sum(count) AS s FROM fm_series')).rows[0]!;
    expect(Number(series.s)).toBe(total);
    const g = (await db.query<{ readings: string; acked_seq: string }>("SELECT readings, acked_seq FROM fm_gateways WHERE id = 'gw-x'")).rows[0]!;
    expect(g).toEqual({ readings: String(total), acked_seq: String(total) });
    console.log(
      `external broker: acked ${before}/${total} when bridge a was killed; bridge b committed ${after.receiver.batchesCommitted} batches (${after.receiver.readingsStored} stored, ${after.receiver.readingsDuplicate} duplicates refused by the key)`,
    );
  }, 240_000);
});
