/**
 * SerialBridge: a microcontroller sends fm-frames (device-sdk/FORMAT.md) on a serial line; the
 * bridge decodes them and publishes their readings through a DeviceClient, which buffers them
 * while the gateway is unreachable. One bridge speaks for one device id (the client's
 * credentials): frames that leave the device id empty or name that id are published, frames
 * naming another device are counted as `foreign` and dropped, since the gateway would refuse
 * them anyway (a device publishes only under its own topic).
 */
import { systemClock, type Clock, type Timer } from '../clock.js';
import { frameReadings, FrameStreamDecoder, type Frame, type FrameStreamStats } from '../frame/index.js';
import { silentLogger, type Logger } from '../logger.js';
import type { DeviceClient } from '../client/device-client.js';
import type { ByteSource, OpenByteSource } from './serial-source.js';

export interface SerialBridgeOptions {
  source: ByteSource;
  client: Pick<DeviceClient, 'device' | 'publish'>;
  clock?: Clock;
  logger?: Logger;
  /** Re-open backoff, ms: `initialMs` (default 500) doubling up to `maxMs` (default 30 000). */
  reopen?: { initialMs?: number; maxMs?: number };
}

export interface SerialBridgeStats {
  open: boolean;
  opens: number;
  lost: number;
  openFailures: number;
  lastError?: string;
  /** Frames whose readings were published. */
  published: number;
  /** Frames for another device id, dropped. */
  foreign: number;
  /** Frames missing according to the frame sequence numbers (a gap of n counts n). */
  gaps: number;
  /** Frames whose readings the client refused (e.g. a base time before 1978: an MCU sending uptime as time). */
  unpublishable: number;
  frames: FrameStreamStats;
}

export class SerialBridge {
  private readonly decoder = new FrameStreamDecoder();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly backoff: { initialMs: number; maxMs: number };
  private delayMs: number;
  private openPort?: OpenByteSource;
  private timer?: Timer;
  private stopped = false;
  private lastSeq?: number;
  private readonly s = { opens: 0, lost: 0, openFailures: 0, published: 0, foreign: 0, gaps: 0, unpublishable: 0 };
  private lastError?: string;

  constructor(private readonly opts: SerialBridgeOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.logger ?? silentLogger).child({ component: 'serial-bridge', port: opts.source.name });
    this.backoff = { initialMs: 500, maxMs: 30_000, ...opts.reopen };
    this.delayMs = this.backoff.initialMs;
  }

  start(): this {
    void this.open();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    const p = this.openPort;
    this.openPort = undefined;
    if (p) await p.close();
  }

  stats(): SerialBridgeStats {
    const st: SerialBridgeStats = { open: this.openPort !== undefined, ...this.s, frames: this.decoder.stats() };
    if (this.lastError) st.lastError = this.lastError;
    return st;
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    let port: OpenByteSource;
    try {
      port = await this.opts.source.open({
        data: (chunk) => this.onData(chunk),
        closed: (err) => this.onClosed(port, err),
      });
    } catch (err) {
      this.s.openFailures++;
      this.lastError = (err as Error).message;
      this.log.error({ err: this.lastError, retryInMs: this.delayMs }, `cannot open serial port ${this.opts.source.name}; retrying`);
      this.retry();
      return;
    }
    if (this.stopped) {
      await port.close();
      return;
    }
    this.openPort = port;
    this.s.opens++;
    this.delayMs = this.backoff.initialMs;
    this.decoder.reset();
    this.lastSeq = undefined;
    this.log.info({ opens: this.s.opens }, `serial port ${this.opts.source.name} open`);
  }

  private onClosed(port: OpenByteSource, err?: Error): void {
    if (this.openPort !== port || this.stopped) return;
    this.openPort = undefined;
    this.s.lost++;
    this.lastError = err?.message ?? 'closed';
    this.log.warn({ err: this.lastError }, `serial port ${this.opts.source.name} went away; re-opening`);
    this.retry();
  }

  private retry(): void {
    if (this.stopped) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.backoff.maxMs, delay * 2);
    this.timer = this.clock.setTimeout(() => void this.open(), delay);
    this.timer.unref?.();
  }

  private onData(chunk: Uint8Array): void {
    const out = this.decoder.push(chunk);
    if (out.rejected.length > 0) this.log.debug({ rejected: out.rejected.map((r) => r.code) }, 'frames rejected');
    for (const frame of out.frames) this.onFrame(frame);
  }

  private onFrame(frame: Frame): void {
    const device = this.opts.client.device;
    if (frame.device !== '' && frame.device !== device) {
      this.s.foreign++;
      return;
    }
    if (this.lastSeq !== undefined) this.s.gaps += (frame.seq - this.lastSeq - 1) & 0xffff;
    this.lastSeq = frame.seq;
    const readings = frameReadings(frame, this.clock.now(), device);
    if (readings.length === 0) return;
    try {
      this.opts.client.publish(readings.map((r) => ({ sensor: r.series.slice(device.length + 1), value: r.value, ts: r.ts })));
      this.s.published++;
    } catch (err) {
      // A frame the gateway could not store either (e.g. a time before 1978): count, go on.
      this.s.unpublishable++;
      this.lastError = (err as Error).message;
      this.log.warn({ err: this.lastError, seq: frame.seq }, 'frame readings not publishable');
    }
  }
}
