/**
 * One RS-485 line as a Modbus RTU master (Modbus over Serial Line V1.02 §2.4–2.5): strictly one
 * transaction on the bus at a time, FIFO, with at least t3.5 of silence before every request —
 * measured from the last byte either side put on the line, so the tail of a late or garbled
 * answer is waited out rather than read as the start of the next one.
 */
import type { Clock, Logger } from '@fieldmesh/device-sdk';
import type { SerialLinkOpener } from '../serial/serial-link.js';
import { ModbusFaultError } from './errors.js';
import { LinkKeeper, type LinkBackoff } from './link-keeper.js';
import { waitUntil } from './line-timing.js';
import { autoDirection, type DirectionControl } from './direction.js';
import { decodeResponse, encodeRequest, type ModbusRequest, type ReadResult } from './pdu.js';
import { charTimeMs, decodeRtuResponse, encodeRtuFrame, interFrameGapMs, MAX_RTU_FRAME } from './rtu-frame.js';
import { QueuedTransport, type Job } from './queued-transport.js';

export interface RtuTransportOptions {
  path: string;
  baud: number;
  opener: SerialLinkOpener;
  clock: Clock;
  logger: Logger;
  backoff: LinkBackoff;
  direction?: DirectionControl;
  /** Spin the last millisecond of the gap (real clock); false on a ManualClock. */
  preciseTiming: boolean;
}

export class RtuTransport extends QueuedTransport {
  protected readonly keeper: LinkKeeper;
  private running = false;
  private rx: Uint8Array[] = [];
  private rxBytes = 0;
  /** Monotonic ms of the last byte seen on the line (sent or received). */
  private lastActivity = -Infinity;
  private onRx?: () => void;
  /** Fails the transaction waiting for its answer (stop()). */
  private abort?: (err: Error) => void;
  /** The job the bus is working on (waiting for the gap or for its answer). */
  private taken?: Job;
  /** Unit of the last transaction, to blame bytes that arrive outside one. */
  private lastUnit = -1;
  private inTransaction = false;
  private readonly gapMs: number;
  private readonly direction: DirectionControl;

  constructor(private readonly opts: RtuTransportOptions) {
    super(`rtu:${opts.path}`);
    this.gapMs = interFrameGapMs(opts.baud);
    this.direction = opts.direction ?? autoDirection;
    this.keeper = new LinkKeeper(this.name, opts.path, opts.baud, opts, {
      data: (chunk) => this.received(chunk),
      up: () => this.linkUp(),
      down: () => this.onRx?.(),
    });
  }

  async stop(): Promise<void> {
    this.abort?.(new ModbusFaultError('link_down', `${this.name} stopped`));
    // A job waiting out the gap (its timer may never fire on a stopped clock) fails now too.
    this.taken?.reject(new ModbusFaultError('link_down', `${this.name} stopped`));
    await this.keeper.stop();
    this.rejectQueued();
  }

  protected kick(): void {
    if (!this.running) void this.drain();
  }

  private received(chunk: Uint8Array): void {
    this.lastActivity = this.opts.clock.monotonic();
    if (!this.inTransaction) {
      // Nobody asked: the tail of an answer that came after its timeout.
      if (this.lastUnit >= 0) for (const l of this.stray) l(this.lastUnit, 'late_frame');
      return;
    }
    if (this.rxBytes + chunk.length > MAX_RTU_FRAME * 2) return; // a babbling line; the decoder has what it needs
    this.rx.push(chunk);
    this.rxBytes += chunk.length;
    this.onRx?.();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const job = this.queue.shift()!;
        this.taken = job;
        if (this.keeper.state !== 'up') {
          job.reject(this.linkDown());
          continue;
        }
        try {
          job.resolve(await this.once(job));
        } catch (err) {
          job.reject(err as Error);
        }
      }
    } finally {
      this.running = false;
      this.taken = undefined;
    }
  }

  /** One request and its answer; the line is quiet for t3.5 before it starts. */
  private async once(job: Job): Promise<ReadResult> {
    const { clock } = this.opts;
    // Wait for t3.5 of silence; bytes arriving meanwhile push it out again.
    for (;;) {
      const at = this.lastActivity + this.gapMs;
      if (clock.monotonic() >= at) break;
      await waitUntil(clock, at, this.opts.preciseTiming);
    }
    const link = this.keeper.link;
    if (!link) throw new ModbusFaultError('link_down', `${this.name} went away`);
    this.rx = [];
    this.rxBytes = 0;
    this.lastUnit = job.unit;
    this.inTransaction = true;
    this.transactions++;
    try {
      const frame = encodeRtuFrame(job.unit, encodeRequest(job.req));
      if (this.direction === autoDirection) {
        // Nothing to switch after the last byte: listen at once and let the write complete in
        // the background (waiting for tcdrain costs a thread-pool round trip per transaction).
        // The timeout then also covers the request's own time on the line.
        const answer = this.answer(job, frame.length * charTimeMs(this.opts.baud));
        link.write(frame).catch((err: Error) => this.abort?.(new ModbusFaultError('link_down', `${this.name}: write failed: ${err.message}`)));
        this.lastActivity = clock.monotonic();
        return await answer;
      }
      const step = async (fault: 'link_down' | 'direction_failed', what: string, fn: () => Promise<void>) => {
        try {
          await fn();
        } catch (err) {
          throw new ModbusFaultError(fault, `${this.name}: ${what} failed: ${(err as Error).message}`);
        }
      };
      await step('direction_failed', 'driver enable', () => this.direction.transmit(link));
      await step('link_down', 'write', () => link.write(frame));
      await step('direction_failed', 'driver release', () => this.direction.receive(link));
      this.lastActivity = clock.monotonic();
      return await this.answer(job, 0);
    } finally {
      this.inTransaction = false;
      this.onRx = undefined;
      this.abort = undefined;
    }
  }

  private answer(job: Job, extraMs: number): Promise<ReadResult> {
    const { clock } = this.opts;
    return new Promise((resolve, reject) => {
      this.abort = (err) => {
        clock.clearTimeout(timer);
        this.onRx = undefined;
        reject(err);
      };
      const timer = clock.setTimeout(() => {
        this.onRx = undefined;
        // Bytes but not a whole frame by the deadline: a short frame, not silence.
        reject(this.rxBytes > 0 ? new ModbusFaultError('short_frame', `unit ${job.unit}: ${this.rxBytes} bytes, not a whole response, within ${job.timeoutMs} ms`) : new ModbusFaultError('timeout', `unit ${job.unit}: no answer within ${job.timeoutMs} ms`));
      }, job.timeoutMs + extraMs);
      this.onRx = () => {
        if (this.keeper.state !== 'up') {
          clock.clearTimeout(timer);
          reject(new ModbusFaultError('link_down', `${this.name} went away during a transaction`));
          return;
        }
        const buf = this.rx.length === 1 ? this.rx[0]! : Buffer.concat(this.rx);
        this.rx = [buf];
        const d = decodeRtuResponse(buf, job.unit, job.req.fc);
        if (d.kind === 'incomplete') return;
        clock.clearTimeout(timer);
        this.onRx = undefined;
        if (d.kind === 'bad') {
          reject(new ModbusFaultError(d.fault, `unit ${job.unit}: ${d.fault.replace('_', ' ')} in response to function ${job.req.fc}`));
          return;
        }
        try {
          resolve(decodeResponse(job.req, d.pdu));
        } catch (err) {
          reject(err as Error);
        }
      };
    });
  }
}
