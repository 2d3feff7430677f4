/**
 * What the RTU and TCP transports share: a FIFO of jobs over one LinkKeeper, the stray-fault and
 * link-up listeners, and the stats. Each subclass decides only how the head of the queue goes on
 * the wire (RTU waits out the line's silence gap; TCP matches answers by transaction id).
 */
import { ModbusFaultError, type ModbusFault } from './errors.js';
import type { LinkKeeper } from './link-keeper.js';
import type { ModbusRequest, ReadResult } from './pdu.js';
import type { ModbusTransport, TransportStats } from './transport.js';

export interface Job {
  unit: number;
  req: ModbusRequest;
  timeoutMs: number;
  resolve(r: ReadResult): void;
  reject(e: Error): void;
}

export abstract class QueuedTransport implements ModbusTransport {
  protected abstract readonly keeper: LinkKeeper;
  protected readonly queue: Job[] = [];
  protected transactions = 0;
  protected readonly stray: ((unit: number, fault: ModbusFault) => void)[] = [];
  private readonly upListeners: (() => void)[] = [];

  constructor(readonly name: string) {}

  /** Starts on the queue's head if the bus is idle; called after every job queued. */
  protected abstract kick(): void;

  abstract stop(): Promise<void>;

  get up(): boolean {
    return this.keeper.state === 'up';
  }

  start(): void {
    this.keeper.start();
  }

  onStrayFault(listener: (unit: number, fault: ModbusFault) => void): void {
    this.stray.push(listener);
  }

  onUp(listener: () => void): void {
    this.upListeners.push(listener);
  }

  transact(unit: number, req: ModbusRequest, timeoutMs: number): Promise<ReadResult> {
    if (this.keeper.state !== 'up') return Promise.reject(this.linkDown());
    return new Promise((resolve, reject) => {
      this.queue.push({ unit, req, timeoutMs, resolve, reject });
      this.kick();
    });
  }

  stats(): TransportStats {
    const st: TransportStats = { name: this.name, state: this.keeper.state, ...this.keeper.counts, transactions: this.transactions, queued: this.queue.length };
    if (this.keeper.lastError) st.lastError = { ...this.keeper.lastError };
    return st;
  }

  protected linkUp(): void {
    for (const l of this.upListeners) l();
  }

  /** The fault a job gets when the link is not up as it reaches the bus. */
  protected linkDown(): ModbusFaultError {
    return new ModbusFaultError('link_down', `${this.name} is ${this.keeper.state}`);
  }

  /** Fails every job still waiting: the transport is stopping. */
  protected rejectQueued(): void {
    for (const j of this.queue.splice(0)) j.reject(new ModbusFaultError('link_down', `${this.name} stopped`));
  }
}
