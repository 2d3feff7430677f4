/** Simulated sensors on real ptys, read by the gateway's SerialIngest (MH-Z19 polled over the pty). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SerialIngest } from '#gateway/ingest/serial/index';
import { PtySimulatedSensor } from '#hardware/sensors/index';
import type { Reading } from '@fieldmesh/device-sdk';
import { waitFor } from '../../wait-for.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('PtySimulatedSensor', () => {
  it('a polled MH-Z19, a GPS and a PMS5003 on ptys are read by SerialIngest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fm-ptysensor-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const sensors = await Promise.all(
      (['mhz19', 'nmea0183', 'pms5003'] as const).map((profile) => PtySimulatedSensor.start({ profile, dir, name: profile, intervalMs: 50 })),
    );
    cleanups.push(async () => {
      for (const s of sensors) await s.stop();
    });
    const got: Reading[] = [];
    const ingest = new SerialIngest({
      ports: sensors.map((s, i) => ({ path: s.path, baud: 9600, profile: ['mhz19', 'nmea0183', 'pms5003'][i]!, device: `sim${i}` })),
      sink: { submit: async (_d, rs) => void got.push(...rs) },
      pollIntervalMs: 50,
    });
    cleanups.push(() => ingest.stop());
    ingest.start();
    const want = ['sim0/co2', 'sim1/lat', 'sim2/pm2.5'];
    await waitFor(() => want.every((s) => got.some((r) => r.series === s)), `readings of ${want.join(', ')}`, 30_000);
    for (const s of want) expect(got.some((r) => r.series === s), s).toBe(true);
    expect(ingest.stats().totals.rejected).toBe(0);
    const co2 = got.find((r) => r.series === 'sim0/co2')!;
    expect(co2.value).toBeGreaterThan(300);
    expect(co2.unit).toBe('ppm');
  });
});
