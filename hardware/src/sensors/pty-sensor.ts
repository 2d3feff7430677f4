/**
 * A simulated sensor on a real pseudo-terminal, for the demo (`npm start`) and tests: socat makes
 * a pty pair, the gateway opens `path` like a USB adapter (a symlink, as under
 * /dev/serial/by-id/), and this end plays the sensor from simulate.ts — speaking on its interval
 * and answering polls (MH-Z19). Needs the `socat` Debian package.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { constants, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import tty from 'node:tty';
import { systemClock, type Clock, type Timer } from '@fieldmesh/device-sdk';
import { SensorProfileError } from './errors.js';
import type { SensorProfileName } from './profiles.js';
import { simulateSensor, type SimulatedSensor } from './simulate.js';

export interface PtySensorOptions {
  profile: SensorProfileName;
  /** Directory for the two pty links (e.g. the demo's data directory). */
  dir: string;
  /** Link name; the gateway opens `<dir>/<name>`, the sensor end is `<dir>/<name>.sensor`. */
  name: string;
  /** Overrides the profile's natural interval, ms. */
  intervalMs?: number;
  seed?: number;
  clock?: Clock;
}

export class PtySimulatedSensor {
  /** Bytes the sensor wrote. */
  sent = 0;
  private timer?: Timer;
  private stopped = false;

  private constructor(
    readonly path: string,
    private readonly proc: ChildProcess,
    private readonly input: tty.ReadStream,
    private readonly output: tty.WriteStream,
    private readonly sim: SimulatedSensor,
    private readonly clock: Clock,
  ) {}

  static async start(opts: PtySensorOptions): Promise<PtySimulatedSensor> {
    if (spawnSync('socat', ['-V'], { stdio: 'ignore' }).status !== 0) throw new SensorProfileError('FM_ERR_SENSOR_PTY', 'socat is not installed');
    const path = join(opts.dir, opts.name);
    const sensorPath = `${path}.sensor`;
    const proc = spawn('socat', [`pty,raw,echo=0,link=${path}`, `pty,raw,echo=0,link=${sensorPath}`], { stdio: 'ignore' });
    // socat is a real process: its start-up is waited for in real time, whatever clock drives the readings.
    const until = systemClock.monotonic() + 10_000;
    while (!(existsSync(path) && existsSync(sensorPath))) {
      if (proc.exitCode !== null || systemClock.monotonic() > until) {
        proc.kill();
        throw new SensorProfileError('FM_ERR_SENSOR_PTY', `socat did not create ${path}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    // A tty stream (not fs.createReadStream): libuv reads it without blocking a thread-pool thread.
    const fd = openSync(sensorPath, constants.O_RDWR | constants.O_NOCTTY);
    const input = new tty.ReadStream(fd);
    input.setRawMode(true);
    const output = new tty.WriteStream(fd);
    const clock = opts.clock ?? systemClock;
    const sensor = new PtySimulatedSensor(path, proc, input, output, simulateSensor(opts.profile, opts.seed), clock);
    sensor.run(opts.intervalMs);
    return sensor;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.input.destroy();
    this.output.destroy();
    if (this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill();
      await exited;
    }
  }

  private write(bytes: Uint8Array | undefined): void {
    if (this.stopped || !bytes || bytes.length === 0) return;
    this.sent += bytes.length;
    this.output.write(bytes);
  }

  private run(intervalMs?: number): void {
    if (this.sim.answer) this.input.on('data', (d: Buffer) => this.write(this.sim.answer!(d, this.clock.now())));
    else this.input.on('data', () => {});
    this.input.on('error', () => {});
    this.output.on('error', () => {});
    const every = intervalMs ?? this.sim.intervalMs;
    if (every <= 0) return;
    const tick = () => {
      this.write(this.sim.tick(this.clock.now()));
      this.timer = this.clock.setTimeout(tick, every);
      this.timer.unref?.();
    };
    tick();
  }
}
