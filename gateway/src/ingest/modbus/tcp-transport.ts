/**
 * A Modbus TCP endpoint (a device, or a TCP-to-RTU gateway with several units behind it). One
 * transaction in flight per connection: many devices and most serial gateways serve one at a
 * time, and queueing here keeps a slow unit's timeout from being charged to the others'
 * requests sent alongside. Responses are matched by transaction id; an answer to a transaction
 * that already timed out is a counted late frame. A connection that stops answering without
 * closing (a device rebooted behind a NAT or switch) is dropped after DEAD_AFTER timeouts in a
 * row and re-opened.
 */
import type { Clock, Logger } from '@fieldmesh/device-sdk';
import type { SerialLinkOpener } from '../serial/serial-link.js';
import { ModbusFaultError } from './errors.js';
import { LinkKeeper, type LinkBackoff } from './link-keeper.js';
import { decodeResponse, encodeRequest } from './pdu.js';
import { encodeTcpFrame, TcpFrameSplitter, type TcpFrame } from './tcp-frame.js';
import { QueuedTransport, type Job } from './queued-transport.js';

const DEAD_AFTER = 3;

export interface TcpTransportOptions {
  host: string;
  port: number;
  opener: SerialLinkOpener;
  clock: Clock;
  logger: Logger;
  backoff: LinkBackoff;
}

function tcpAddress(opts: TcpTransportOptions): string {
  return opts.host.includes(':') ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
}

export class TcpTransport extends QueuedTransport {
  protected readonly keeper: LinkKeeper;
  private readonly splitter = new TcpFrameSplitter();
  private current?: { job: Job; tid: number; onFrame(f: TcpFrame): void; fail(e: Error): void };
  private nextTid = 1;
  private silentInRow = 0;

  constructor(opts: TcpTransportOptions) {
    super(`tcp:${tcpAddress(opts)}`);
    this.keeper = new LinkKeeper(this.name, tcpAddress(opts), 0, opts, {
      data: (chunk) => this.received(chunk),
      up: () => {
        this.splitter.reset();
        this.silentInRow = 0;
        this.linkUp();
      },
      down: () => this.current?.fail(new ModbusFaultError('link_down', `${this.name} closed during a transaction`)),
    });
    this.clock = opts.clock;
  }

  private readonly clock: Clock;

  async stop(): Promise<void> {
    await this.keeper.stop();
    this.current?.fail(new ModbusFaultError('link_down', `${this.name} stopped`));
    this.rejectQueued();
  }

  protected kick(): void {
    if (!this.current) this.next();
  }

  private received(chunk: Uint8Array): void {
    const { frames, error } = this.splitter.push(chunk);
    for (const f of frames) {
      if (this.current && f.transaction === this.current.tid) this.current.onFrame(f);
      else for (const l of this.stray) l(f.unit, 'late_frame');
    }
    if (error) {
      this.current?.fail(new ModbusFaultError('bad_length', `${this.name}: ${error}; reconnecting`));
      void this.keeper.recycle(error);
    }
  }

  private next(): void {
    const job = this.queue.shift();
    if (!job) return;
    const link = this.keeper.link;
    if (this.keeper.state !== 'up' || !link) {
      job.reject(this.linkDown());
      return this.next();
    }
    const tid = this.nextTid;
    this.nextTid = (this.nextTid + 1) & 0xffff || 1;
    this.transactions++;
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      this.clock.clearTimeout(timer);
      this.current = undefined;
      fn();
      this.next();
    };
    const timer = this.clock.setTimeout(() => {
      finish(() => job.reject(new ModbusFaultError('timeout', `unit ${job.unit}: no answer within ${job.timeoutMs} ms`)));
      if (++this.silentInRow >= DEAD_AFTER) {
        this.silentInRow = 0;
        void this.keeper.recycle(`${DEAD_AFTER} timeouts in a row`);
      }
    }, job.timeoutMs);
    this.current = {
      job,
      tid,
      onFrame: (f) =>
        finish(() => {
          this.silentInRow = 0;
          if (f.unit !== job.unit) return job.reject(new ModbusFaultError('wrong_unit', `answer from unit ${f.unit} to a request for unit ${job.unit}`));
          try {
            job.resolve(decodeResponse(job.req, f.pdu));
          } catch (err) {
            job.reject(err as Error);
          }
        }),
      fail: (e) => finish(() => job.reject(e)),
    };
    link.write(encodeTcpFrame(tid, job.unit, encodeRequest(job.req))).catch((err: Error) => this.current?.tid === tid && this.current.fail(new ModbusFaultError('link_down', `${this.name}: write failed: ${err.message}`)));
  }
}
