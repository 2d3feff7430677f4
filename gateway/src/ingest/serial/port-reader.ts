/**
 * One configured serial port: open it, feed its bytes through the sensor profile's parser, hand
 * readings to the IngestSink, write poll commands, and when the port is missing, busy or lost,
 * retry with exponential backoff for as long as the gateway runs. Never throws after start().
 */
import type { Clock, Logger, Reading, Timer } from '@fieldmesh/device-sdk';
import type { SensorParser, SensorParserStats } from '@fieldmesh/hardware/sensors';
import type { IngestSink } from '../sink.js';
import { classifyOpenError, serialErrors, type SerialErrorCode } from './errors.js';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import type { SerialLink, SerialLinkOpener } from './serial-link.js';

export interface SerialPortEntry {
  path: string;
  baud: number;
  profile: string;
  device: string;
}

export interface SerialBackoff {
  /** ms before the first retry. Default 500: a re-plugged adapter is usually back within a second. */
  initialMs: number;
  /** ms cap between retries. Default 30 000: a missing port costs one open() per 30 s. */
  maxMs: number;
}

/**
 * Readings handed to the sink but not yet committed, above which reading pauses. 64 submissions
 * of one read chunk each is well past what one group commit takes; pausing lets the OS buffer.
 */
const MAX_IN_FLIGHT = 64;

export type PortState = 'idle' | 'opening' | 'open' | 'waiting' | 'stopped';

export interface SerialPortStats {
  path: string;
  baud: number;
  device: string;
  profile: string;
  state: PortState;
  /** Successful opens; opens − 1 is the number of re-opens. */
  opens: number;
  /** Times an open port went away. */
  lost: number;
  openFailures: number;
  lastError?: { code: SerialErrorCode; message: string; at: number };
  /** ms until the next open attempt while `waiting`. */
  retryInMs?: number;
  bytes: number;
  readingsSubmitted: number;
  readingsCommitted: number;
  /** Submissions the sink refused (their readings are not stored). */
  submitFailed: number;
  pollsSent: number;
  inFlight: number;
  parser: SensorParserStats;
}

export interface PortReaderDeps {
  opener: SerialLinkOpener;
  sink: IngestSink;
  clock: Clock;
  logger: Logger;
  backoff: SerialBackoff;
}

export class SerialPortReader {
  private state: PortState = 'idle';
  private link?: SerialLink;
  private retryTimer?: Timer;
  private retryAt = 0;
  private pollTimer?: Timer;
  private delayMs: number;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly log: Logger;
  private readonly limited: RateLimitedLog;
  private readonly s = { opens: 0, lost: 0, openFailures: 0, bytes: 0, readingsSubmitted: 0, readingsCommitted: 0, submitFailed: 0, pollsSent: 0 };
  private lastError?: SerialPortStats['lastError'];

  constructor(
    readonly entry: SerialPortEntry,
    private readonly parser: SensorParser,
    private readonly deps: PortReaderDeps,
  ) {
    this.delayMs = deps.backoff.initialMs;
    this.log = deps.logger.child({ component: 'serial', port: entry.path, device: entry.device });
    this.limited = new RateLimitedLog(this.log, deps.clock, { intervalMs: 10_000, countZero: false });
  }

  start(): void {
    if (this.state !== 'idle') return;
    void this.openNow();
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.retryTimer) this.deps.clock.clearTimeout(this.retryTimer);
    this.stopPolling();
    const link = this.link;
    this.link = undefined;
    if (link) await link.close();
  }

  /** Resolves once every reading handed to the sink so far has been committed or refused. */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stats(): SerialPortStats {
    const st: SerialPortStats = { ...this.entry, state: this.state, ...this.s, inFlight: this.inFlight, parser: this.parser.stats() };
    if (this.lastError) st.lastError = { ...this.lastError };
    if (this.state === 'waiting') st.retryInMs = Math.max(0, this.retryAt - this.deps.clock.monotonic());
    return st;
  }

  private async openNow(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'opening';
    const { path, baud } = this.entry;
    let link: SerialLink;
    try {
      link = await this.deps.opener.open(path, baud, {
        data: (chunk) => this.onData(link, chunk),
        closed: (err) => this.onClosed(link, err),
      });
    } catch (err) {
      if (this.stopped()) return;
      const code = classifyOpenError(err);
      this.s.openFailures++;
      this.noteError(code, err);
      this.limited.error(`open:${code}`, { code, err: messageOf(err), retryInMs: this.delayMs }, `serial port ${path} cannot be opened: ${serialErrors[code].meaning}; ${serialErrors[code].howToSolve}`);
      this.scheduleRetry();
      return;
    }
    if (this.stopped()) {
      await link.close();
      return;
    }
    this.link = link;
    this.state = 'open';
    this.s.opens++;
    this.delayMs = this.deps.backoff.initialMs;
    // A message cut by the re-open is noise now, not the start of the next one.
    this.parser.reset();
    this.log.info({ opens: this.s.opens, baud }, `serial port ${path} open (${this.entry.profile})`);
    this.startPolling();
  }

  private onClosed(link: SerialLink, err?: Error): void {
    if (this.link !== link || this.state === 'stopped') return;
    this.link = undefined;
    this.stopPolling();
    this.s.lost++;
    this.noteError('FM_ERR_SERIAL_LOST', err ?? new Error('port closed'));
    this.limited.warn('lost', { code: 'FM_ERR_SERIAL_LOST' satisfies SerialErrorCode, err: err ? messageOf(err) : undefined }, `serial port ${this.entry.path} went away; re-opening with backoff`);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.state === 'stopped') return;
    this.state = 'waiting';
    const delay = this.delayMs;
    this.delayMs = Math.min(this.deps.backoff.maxMs, this.delayMs * 2);
    this.retryAt = this.deps.clock.monotonic() + delay;
    this.retryTimer = this.deps.clock.setTimeout(() => void this.openNow(), delay);
    this.retryTimer.unref?.();
  }

  private onData(link: SerialLink, chunk: Uint8Array): void {
    if (this.link !== link) return;
    this.s.bytes += chunk.length;
    const { readings, rejected } = this.parser.feed(chunk, this.deps.clock.now());
    if (rejected > 0) {
      const p = this.parser.stats();
      this.limited.warn('rejects', { rejects: p.rejects, discardedBytes: p.discardedBytes }, `serial port ${this.entry.path}: ${p.rejected} messages rejected so far (mostly noise? check the baud rate, now ${this.entry.baud})`);
    }
    if (readings.length > 0) this.submit(readings);
  }

  private submit(readings: Reading[]): void {
    // Most ports carry one device; an fm-frame bus may carry several, and each is stored under its own id.
    const byDevice = new Map<string, Reading[]>();
    for (const r of readings) {
      const device = r.series.slice(0, r.series.indexOf('/'));
      const list = byDevice.get(device);
      if (list) list.push(r);
      else byDevice.set(device, [r]);
    }
    for (const [device, list] of byDevice) {
      this.inFlight++;
      this.s.readingsSubmitted += list.length;
      if (this.inFlight === MAX_IN_FLIGHT) this.link?.pause();
      this.deps.sink.submit(device, list).then(
        () => {
          this.s.readingsCommitted += list.length;
          this.settled();
        },
        (err: unknown) => {
          this.s.submitFailed++;
          const code = (err as { code?: string })?.code ?? 'unknown';
          this.limited.error(`submit:${code}`, { code: 'FM_ERR_SERIAL_SUBMIT' satisfies SerialErrorCode, cause: code, err: messageOf(err), device }, `serial port ${this.entry.path}: store refused ${list.length} readings`);
          this.settled();
        },
      );
    }
  }

  private settled(): void {
    this.inFlight--;
    if (this.inFlight === MAX_IN_FLIGHT / 2) this.link?.resume();
    if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private startPolling(): void {
    const poll = this.parser.poll;
    if (!poll) return;
    const tick = () => {
      const link = this.link;
      if (!link) return;
      this.s.pollsSent++;
      link.write(poll.bytes).catch((err: unknown) => this.limited.warn('poll', { err: messageOf(err) }, `serial port ${this.entry.path}: poll command not written`));
      this.pollTimer = this.deps.clock.setTimeout(tick, poll.intervalMs);
      this.pollTimer.unref?.();
    };
    tick();
  }

  private stopPolling(): void {
    if (this.pollTimer) this.deps.clock.clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
  }

  /** A re-read after an await: stop() may have run meanwhile. */
  private stopped(): boolean {
    return this.state === 'stopped';
  }

  private noteError(code: SerialErrorCode, err: unknown): void {
    this.lastError = { code, message: messageOf(err), at: this.deps.clock.now() };
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
