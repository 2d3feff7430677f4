import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../cloud-bridge/cloud-fixture.js';
import { CHAOS_KILLS, chaosSystem, CountingDevice, seededRandom, type ChaosSystem } from './chaos-fixture.js';

const PER_PACK = 10;

/**
 * SIGKILL of the gateway at random points while a device publishes (ingest) and the uplink
 * drains, with the cloud cut for a stretch now and then so that a backlog builds and drains
 * across kills. Claim: 0 acknowledged readings lost, 0 duplicates at the cloud. A storage budget
 * is configured (large enough that nothing is given up on), so its checks run under the kills too.
 */
describe('chaos: SIGKILL during ingest and drain', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it(`0 acknowledged readings lost, 0 duplicates at the cloud over ${CHAOS_KILLS} kills`, { timeout: 1_800_000 }, async () => {
    const tmp = tempDir('fm-chaos-');
    cleanups.push(tmp.cleanup);
    const sys: ChaosSystem = await chaosSystem(tmp.dir, { cloud: true, gatewayExtra: ['storage: { budgetBytes: 67108864, policy: downsample, checkIntervalMs: 200 }'] });
    cleanups.push(() => sys.stopAll());
    const device = new CountingDevice(sys.gwPort, PER_PACK);
    cleanups.push(() => device.stop());
    device.start();
    const { seed, random } = seededRandom();
    for (let k = 0; k < CHAOS_KILLS; k++) {
      const before = device.acked.size;
      await waitFor(() => device.acked.size >= before + 3, `device progress (seed ${seed}, kill ${k})`, 60_000);
      // Every third cycle the cloud is down for a while: the backlog grows, then drains after restart.
      const outage = k % 3 === 1;
      if (outage) await sys.cloud!.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 50 + random() * 600));
      await sys.gateway!.kill('SIGKILL');
      await sys.startGateway();
      if (outage) await sys.startCloud();
    }
    const before = device.acked.size;
    await waitFor(() => device.acked.size >= before + 10, 'device progress after the last restart', 60_000);
    await device.stop();

    let status: Record<string, any> = {};
    await waitFor(async () => {
      status = await sys.status();
      return status.log.lastSeq > 0 && status.log.ackWatermark === status.log.lastSeq;
    }, 'gateway backlog to drain', 180_000);
    expect(status.storage.lost).toEqual({ downsampled: 0, evicted: 0, expired: 0, refused: 0, quarantined: 0, unreadable: 0 });
    // The loss accounting goes upstream in the gateway's retained status.
    await waitFor(async () => {
      const { gateways } = (await (await fetch(`http://127.0.0.1:${sys.cloudHttp}/api/gateways`, { headers: { authorization: `Bearer ${sys.cloudToken}` } })).json()) as { gateways: Array<{ id: string; status: Record<string, any> | null }> };
      return gateways.find((g) => g.id === 'gw-chaos')?.status?.storage?.lost?.evicted === 0;
    }, 'storage status upstream', 60_000);

    const db = new Database(join(tmp.dir, 'cloud', 'cloud.sqlite'), { readonly: true });
    const counts = new Map<number, number>();
    for (const row of db.prepare('SELECT value, count(*) AS n FROM readings GROUP BY value').all() as Array<{ value: number; n: number }>) counts.set(row.value, row.n);
    db.close();
    const missing: number[] = [];
    for (const i of device.acked) for (let k = 0; k < PER_PACK; k++) if (counts.get(i * PER_PACK + k) !== 1) missing.push(i * PER_PACK + k);
    const duplicated = [...counts].filter(([, n]) => n > 1).map(([v]) => v);
    expect({ seed, missing: missing.slice(0, 20), duplicated: duplicated.slice(0, 20) }).toEqual({ seed, missing: [], duplicated: [] });
  });
});
