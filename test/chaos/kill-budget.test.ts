import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../cloud-bridge/cloud-fixture.js';
import { CHAOS_KILLS, chaosSystem, CountingDevice, seededRandom } from './chaos-fixture.js';

const PER_PACK = 50;
const BUDGET = 512 * 1024;

/**
 * A long outage compressed in time (no uplink at all) with a small budget, the gateway SIGKILLed
 * at random points, also in the middle of budget enforcement (deletes, downsampling, vacuum).
 * Claims: the database stays sound; the budget holds on disk; the loss accounting is exact,
 * reading for reading: every raw reading the device ever got a PUBACK for is either still stored,
 * exactly once, or counted as downsampled or evicted.
 */
describe.each(['downsample', 'drop-oldest'])('chaos: SIGKILL while the storage budget (%s) works', (policy) => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const kills = Math.max(3, Math.round(CHAOS_KILLS / 2));
  it(`accounting exact and database sound over ${kills} kills`, { timeout: 1_800_000 }, async () => {
    const tmp = tempDir('fm-chaos-budget-');
    cleanups.push(tmp.cleanup);
    const sys = await chaosSystem(tmp.dir, { cloud: false, gatewayExtra: [`storage: { budgetBytes: ${BUDGET}, policy: ${policy}, checkIntervalMs: 200 }`] });
    cleanups.push(() => sys.stopAll());
    const device = new CountingDevice(sys.gwPort, PER_PACK);
    cleanups.push(() => device.stop());
    device.start();
    const { seed, random } = seededRandom();
    // Fill past the budget first, so that the kills land while enforcement runs.
    await waitFor(async () => (await sys.status()).storage.budget.usedBytes > BUDGET * 0.8, 'log near its budget', 120_000);
    for (let k = 0; k < kills; k++) {
      const before = device.acked.size;
      await waitFor(() => device.acked.size >= before + 5, `device progress (seed ${seed}, kill ${k})`, 60_000);
      await new Promise((r) => setTimeout(r, 20 + random() * 400));
      await sys.gateway!.kill('SIGKILL');
      await sys.startGateway();
    }
    const before = device.acked.size;
    await waitFor(() => device.acked.size >= before + 20, 'device progress after the last restart', 60_000);
    await device.stop();
    expect(device.allAcked()).toBe(true);
    // Let the budget settle, then stop the gateway cleanly and look at its database.
    let status: Record<string, any> = {};
    await waitFor(async () => {
      status = await sys.status();
      return status.storage.budget.usedBytes <= BUDGET;
    }, 'budget holds on disk', 60_000);
    await sys.gateway!.kill('SIGTERM');

    const db = new Database(join(tmp.dir, 'gw', 'gateway.db'), { readonly: true });
    expect(db.pragma('quick_check', { simple: true })).toBe('ok');
    const raw = db
      .prepare("SELECT r.value AS value, count(*) AS n FROM readings r JOIN series s ON s.id = r.sid WHERE instr(s.name, ':min1:') = 0 GROUP BY r.value")
      .all() as Array<{ value: number; n: number }>;
    const lost = db.prepare("SELECT reason, sum(count) AS n FROM loss WHERE instr(series, ':min1:') = 0 GROUP BY reason").all() as Array<{ reason: string; n: number }>;
    const rollupCount = Number(db.prepare("SELECT coalesce(sum(r.value), 0) FROM readings r JOIN series s ON s.id = r.sid WHERE s.name LIKE '%:min1:count'").pluck().get());
    db.close();
    const by = Object.fromEntries(lost.map((l) => [l.reason, l.n])) as Record<string, number>;
    const total = device.acked.size * PER_PACK;
    expect(raw.filter((r) => r.n > 1), 'raw readings stored twice').toEqual([]);
    expect({ seed, accounted: raw.length + (by.downsampled ?? 0) + (by.evicted ?? 0) }).toEqual({ seed, accounted: total });
    expect((by.downsampled ?? 0) + (by.evicted ?? 0)).toBeGreaterThan(0);
    if (policy === 'downsample') expect(by.downsampled ?? 0).toBeGreaterThan(0);
    // Rollups that are still stored cover no more readings than were downsampled.
    expect(rollupCount).toBeLessThanOrEqual(by.downsampled ?? 0);
  });
});
