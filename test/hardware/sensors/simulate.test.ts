import { describe, expect, it } from 'vitest';
import { createSensorParser, MHZ19_READ_COMMAND, SENSOR_PROFILES, simulateSensor, type SensorProfileName } from '#hardware/sensors/index';

describe('simulated sensors', () => {
  it.each(Object.keys(SENSOR_PROFILES) as SensorProfileName[])('%s: an hour of output parses with no rejects', (profile) => {
    const sim = simulateSensor(profile, 1);
    const parser = createSensorParser(profile, { device: 'sim' });
    const t0 = Date.UTC(2026, 5, 1);
    let readings = 0;
    for (let s = 0; s < 3600; s += 10) {
      const now = t0 + s * 1000;
      readings += parser.feed(sim.tick(now), now).readings.length;
      if (sim.answer && parser.poll) readings += parser.feed(sim.answer(parser.poll.bytes, now)!, now).readings.length;
    }
    expect(parser.stats().rejected).toBe(0);
    expect(readings).toBeGreaterThanOrEqual(360);
  });

  it('mhz19 answers only the read command', () => {
    const sim = simulateSensor('mhz19');
    expect(sim.answer!(MHZ19_READ_COMMAND, 0)).toHaveLength(9);
    expect(sim.answer!(Uint8Array.from([0xff, 0x01, 0x87]), 0)).toBeUndefined();
  });
});
