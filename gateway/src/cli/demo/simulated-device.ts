import { DeviceClient, type DeviceReading } from '@fieldmesh/device-sdk/client';
import type { Clock, Logger, Timer } from '@fieldmesh/device-sdk';

/** One simulated sensor: a slow daily-like wave plus a little noise, as real rooms drift. */
interface SimulatedSensor {
  sensor: string;
  unit: string;
  base: number;
  swing: number;
  noise: number;
  decimals: number;
}

const SENSORS: SimulatedSensor[] = [
  { sensor: 'temperature', unit: 'Cel', base: 21, swing: 3, noise: 0.05, decimals: 2 },
  { sensor: 'humidity', unit: '%RH', base: 45, swing: 8, noise: 0.2, decimals: 1 },
  { sensor: 'co2', unit: 'ppm', base: 600, swing: 250, noise: 5, decimals: 0 },
];

/**
 * A device in the demo: publishes its sensors every `intervalMs` through a real DeviceClient
 * (SenML, per-device sequence numbers, QoS 1), exactly as a device on the LAN would.
 */
export class SimulatedDevice {
  private timer: Timer | null = null;
  private tick = 0;
  private readonly phase: number;

  constructor(
    readonly client: DeviceClient,
    private readonly opts: { intervalMs: number; clock: Clock; logger: Logger; seed: number },
  ) {
    this.phase = (opts.seed * 2.399) % (2 * Math.PI);
  }

  static connect(opts: { device: string; password: string; url: string; intervalMs: number; clock: Clock; logger: Logger; seed: number; bufferFile: string }): SimulatedDevice {
    const client = new DeviceClient({
      device: opts.device,
      password: opts.password,
      gateway: opts.url,
      buffer: { file: opts.bufferFile },
      reconnect: { initialMs: 200, maxMs: 5_000 },
      clock: opts.clock,
      logger: opts.logger,
    });
    return new SimulatedDevice(client, opts);
  }

  start(): void {
    this.client.start();
    const loop = () => {
      this.publishOnce();
      this.timer = this.opts.clock.setTimeout(loop, this.opts.intervalMs);
    };
    loop();
  }

  private publishOnce(): void {
    const t = this.opts.clock.now();
    const angle = this.phase + (2 * Math.PI * t) / 600_000; // one "day" every ten minutes
    const readings: DeviceReading[] = SENSORS.map((s) => {
      const v = s.base + s.swing * Math.sin(angle) + s.noise * Math.sin(this.tick * 7.3 + s.base);
      return { sensor: s.sensor, unit: s.unit, ts: t, value: Number(v.toFixed(s.decimals)) };
    });
    this.tick++;
    this.client.publish(readings);
  }

  async stop(): Promise<void> {
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.client.close();
  }
}
