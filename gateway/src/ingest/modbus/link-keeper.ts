/**
 * Keeps one link (serial port or TCP connection) open for as long as the gateway runs: opens it,
 * notices when it goes (cable pulled, USB adapter gone, device rebooted), and re-opens it with
 * exponential backoff (500 ms doubling to 30 s, reset by a successful open). Never throws.
 */
import type { Clock, Logger, Timer } from '@fieldmesh/device-sdk';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import type { SerialLink, SerialLinkOpener } from '../serial/serial-link.js';
import type { ModbusErrorCode } from './errors.js';

export interface LinkBackoff {
  initialMs: number;
  maxMs: number;
}

export interface LinkKeeperDeps {
  opener: SerialLinkOpener;
  clock: Clock;
  logger: Logger;
  backoff: LinkBackoff;
}

export class LinkKeeper {
  state: 'down' | 'opening' | 'up' | 'stopped' = 'down';
  link?: SerialLink;
  readonly counts = { opens: 0, lost: 0, openFailures: 0 };
  lastError?: { message: string; at: number };
  private delayMs: number;
  private timer?: Timer;
  private readonly limited: RateLimitedLog;

  constructor(
    private readonly name: string,
    private readonly address: string,
    private readonly baud: number,
    private readonly deps: LinkKeeperDeps,
    private readonly events: { data(chunk: Uint8Array): void; up(): void; down(): void },
  ) {
    this.delayMs = deps.backoff.initialMs;
    this.limited = new RateLimitedLog(deps.logger, deps.clock, { intervalMs: 10_000, countZero: false });
  }

  start(): void {
    if (this.state === 'down' && !this.timer) void this.open();
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const link = this.link;
    this.link = undefined;
    if (link) await link.close();
  }

  /** Drops the link and re-opens it (a TCP peer that stopped answering without closing). */
  async recycle(reason: string): Promise<void> {
    const link = this.link;
    if (!link || this.state !== 'up') return;
    this.lost(link, new Error(reason));
    await link.close();
  }

  private async open(): Promise<void> {
    if (this.state === 'stopped') return;
    this.timer = undefined;
    this.state = 'opening';
    let link: SerialLink;
    try {
      link = await this.deps.opener.open(this.address, this.baud, {
        data: (chunk) => {
          if (this.link === link) this.events.data(chunk);
        },
        closed: (err) => this.lost(link, err),
      });
    } catch (err) {
      if (this.isStopped()) return;
      this.counts.openFailures++;
      this.note(err);
      this.limited.warn('open', { bus: this.name, code: 'FM_ERR_MODBUS_LINK' satisfies ModbusErrorCode, err: messageOf(err), retryInMs: this.delayMs }, `modbus ${this.name} cannot be opened; retrying`);
      this.retry();
      return;
    }
    if (this.isStopped()) {
      await link.close();
      return;
    }
    this.link = link;
    this.state = 'up';
    this.counts.opens++;
    this.delayMs = this.deps.backoff.initialMs;
    this.deps.logger.info({ bus: this.name, opens: this.counts.opens }, `modbus ${this.name} open`);
    this.events.up();
  }

  private lost(link: SerialLink, err?: Error): void {
    if (this.link !== link || this.state !== 'up') return;
    this.link = undefined;
    this.state = 'down';
    this.counts.lost++;
    this.note(err ?? new Error('closed'));
    this.limited.warn('lost', { bus: this.name, code: 'FM_ERR_MODBUS_LINK' satisfies ModbusErrorCode, err: err ? messageOf(err) : undefined }, `modbus ${this.name} went away; re-opening with backoff`);
    this.events.down();
    this.retry();
  }

  private retry(): void {
    if (this.state === 'stopped') return;
    this.state = 'down';
    const delay = this.delayMs;
    this.delayMs = Math.min(this.deps.backoff.maxMs, this.delayMs * 2);
    this.timer = this.deps.clock.setTimeout(() => void this.open(), delay);
    this.timer.unref?.();
  }

  /** Re-read after an await: stop() may have run meanwhile (TypeScript narrows it away). */
  private isStopped(): boolean {
    return this.state === 'stopped';
  }

  private note(err: unknown): void {
    this.lastError = { message: messageOf(err), at: this.deps.clock.now() };
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
