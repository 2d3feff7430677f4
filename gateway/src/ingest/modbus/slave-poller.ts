/**
 * Polls one slave on its interval: the coalesced reads of its register map, each through the
 * bus's FIFO, readings stamped with the poll's start time and handed to the ingest sink as one
 * batch (same group commit, rules and uplink as every other reading).
 *
 * Failures cost the other slaves on the bus at most this slave's own timeout: a retry is queued
 * at the back of the bus (everyone else's request goes first), and once every read of a poll has
 * failed for lack of an answer the slave is `offline` — polled with backoff (pollMs doubling to
 * backoffMaxMs) and without retries, one timeout per probe — until it answers again.
 */
import type { Clock, Logger, Reading, Timer } from '@fieldmesh/device-sdk';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import type { SlaveConfig } from '../../config/modbus.js';
import type { IngestSink } from '../sink.js';
import { codedMessage } from '@fieldmesh/device-sdk/coded-error';
import { faultCode, modbusErrors, ModbusFaultError, MODBUS_FAULTS, type ModbusFault } from './errors.js';
import { planReads, type PlannedRead } from './read-plan.js';
import { decodeRegisters } from './register-codec.js';
import type { ModbusTransport } from './transport.js';

export type SlaveState = 'unknown' | 'online' | 'offline';

export interface SlaveStats {
  bus: string;
  unit: number;
  device: string;
  state: SlaveState;
  polls: number;
  pollsOk: number;
  /** Polls where some read failed (the readings of the other reads were kept). */
  pollsPartial: number;
  pollsFailed: number;
  /** Polls not made because the line or connection was down. */
  pollsLinkDown: number;
  /** Slots skipped because the previous poll was still running (bus saturated or slave slow) or the store is behind. */
  pollsSkipped: number;
  requests: number;
  readings: number;
  readingsCommitted: number;
  submitFailed: number;
  /** NaN or infinite values (e.g. a float32 register reading 0xFFFFFFFF): not stored. */
  nonFinite: number;
  errors: Record<ModbusFault, number>;
  lastError?: { fault: ModbusFault; code: string; message: string; at: number };
  /** ms from the scheduled slot to the poll's start, worst seen. */
  maxLateMs: number;
  lastPollMs: number;
  consecutiveFailures: number;
}

export interface SlavePollerDeps {
  transport: ModbusTransport;
  sink: IngestSink;
  clock: Clock;
  logger: Logger;
  /** ms between two log lines of one slave and reason. Default 60 000. */
  logIntervalMs?: number;
}


/**
 * Batches of this slave handed to the sink and not yet committed, past which a poll slot is
 * skipped: a store that is behind (a slow SD card) must not make the poller queue readings
 * without bound. 8 polls is far more than one group commit takes.
 */
const MAX_UNCOMMITTED = 8;

export class SlavePoller {
  private readonly plan: PlannedRead[];
  private timer?: Timer;
  private nextSlot = 0;
  private busy = false;
  private stopped = true;
  private readonly limited: RateLimitedLog;
  private readonly log: Logger;
  private readonly s: Omit<SlaveStats, 'bus' | 'unit' | 'device' | 'errors' | 'lastError'>;
  private readonly errors = Object.fromEntries(MODBUS_FAULTS.map((f) => [f, 0])) as Record<ModbusFault, number>;
  private lastError?: SlaveStats['lastError'];
  private idle: Promise<void> = Promise.resolve();
  private rerunOnUp = false;
  private uncommitted = 0;

  constructor(
    readonly slave: Readonly<SlaveConfig>,
    private readonly deps: SlavePollerDeps,
  ) {
    this.plan = planReads(slave.registers, slave.maxGap);
    this.log = deps.logger.child({ component: 'modbus', bus: deps.transport.name, unit: slave.unit, device: slave.device });
    this.limited = new RateLimitedLog(this.log, deps.clock, { intervalMs: deps.logIntervalMs ?? 60_000, countZero: false });
    deps.transport.onUp(() => {
      if (!this.rerunOnUp || this.busy || this.stopped) return;
      this.rerunOnUp = false;
      this.busy = true;
      this.idle = this.poll().finally(() => (this.busy = false));
    });
    this.s = { state: 'unknown', polls: 0, pollsOk: 0, pollsPartial: 0, pollsFailed: 0, pollsSkipped: 0, pollsLinkDown: 0, requests: 0, readings: 0, readingsCommitted: 0, submitFailed: 0, nonFinite: 0, maxLateMs: 0, lastPollMs: 0, consecutiveFailures: 0 };
  }

  /** The reads one poll makes (coalescing, for tests and /api/status). */
  get reads(): readonly PlannedRead[] {
    return this.plan;
  }

  /** `phaseMs` spreads slaves over the interval so a bus is not asked everything at once. */
  start(phaseMs = 0): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.nextSlot = this.deps.clock.monotonic() + phaseMs;
    this.arm(phaseMs);
  }

  /** No more polls; a poll under way ends when its transaction does (stop the transport to cut it short). */
  stop(): void {
    this.stopped = true;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  whenIdle(): Promise<void> {
    return this.idle;
  }

  /** Starts the worst-delay figure over (after start-up, for a steady-state measurement). */
  resetMaxLate(): void {
    this.s.maxLateMs = 0;
  }

  /** A fault seen outside a transaction (a late frame) is this slave's too. */
  countStray(fault: ModbusFault): void {
    this.errors[fault]++;
  }

  stats(): SlaveStats {
    const st: SlaveStats = { bus: this.deps.transport.name, unit: this.slave.unit, device: this.slave.device, ...this.s, errors: { ...this.errors } };
    if (this.lastError) st.lastError = { ...this.lastError };
    return st;
  }

  private arm(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.deps.clock.setTimeout(() => this.tick(), Math.max(0, delayMs));
    this.timer.unref?.();
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.deps.clock.monotonic();
    if (this.busy || this.uncommitted >= MAX_UNCOMMITTED) {
      this.s.pollsSkipped++;
    } else {
      this.s.maxLateMs = Math.max(this.s.maxLateMs, now - this.nextSlot);
      this.busy = true;
      this.idle = this.poll().finally(() => (this.busy = false));
    }
    // Fixed rate on the slot grid, so polls do not drift; offline slaves back off.
    const every = this.s.state === 'offline' ? Math.min(this.slave.backoffMaxMs, this.slave.pollMs * 2 ** Math.min(20, this.s.consecutiveFailures - 1)) : this.slave.pollMs;
    this.nextSlot += every;
    if (this.nextSlot < now) this.nextSlot = now + every - ((now - this.nextSlot) % every);
    this.arm(this.nextSlot - now);
  }

  private async poll(): Promise<void> {
    const { clock } = this.deps;
    if (!this.deps.transport.up) {
      // The bus's fault, not the slave's: counted once per poll, run again the moment it is back.
      this.errors.link_down++;
      this.s.pollsLinkDown++;
      this.rerunOnUp = true;
      return;
    }
    const started = clock.monotonic();
    const ts = Math.round(clock.now());
    this.s.polls++;
    const readings: Reading[] = [];
    let failed = 0;
    let silent = 0;
    let linkDown = 0;
    const retries = this.s.state === 'offline' ? 0 : this.slave.retries;
    for (const read of this.plan) {
      let attempt = 0;
      for (;;) {
        this.s.requests++;
        try {
          const r = await this.deps.transport.transact(this.slave.unit, read.request, this.slave.timeoutMs);
          this.collect(read, r.registers, r.bits, ts, readings);
          break;
        } catch (err) {
          const fault = err instanceof ModbusFaultError ? err.fault : 'link_down';
          this.fail(fault, read, err as Error);
          // An exception is the slave's considered answer: asking again gets the same one.
          // A link that is down is the bus's fault, not the slave's: no retry, no backoff.
          // Direction control failing is the line's setup, not the slave: same as a link down.
          const lineFault = fault === 'link_down' || fault === 'direction_failed';
          const retryable = !lineFault && !(err instanceof ModbusFaultError && err.exceptionCode !== undefined);
          if (attempt++ < retries && retryable && !this.stopped) continue;
          failed++;
          if (fault === 'timeout') silent++;
          if (lineFault) linkDown++;
          break;
        }
      }
      if (this.stopped) break;
    }
    this.s.lastPollMs = clock.monotonic() - started;
    if (failed === 0) this.s.pollsOk++;
    else if (failed < this.plan.length) this.s.pollsPartial++;
    else this.s.pollsFailed++;
    // The link went down during all of it: poll again the moment it is back.
    if (linkDown === this.plan.length) this.rerunOnUp = true;
    if (silent === this.plan.length && this.plan.length > 0) {
      this.s.consecutiveFailures++;
      if (this.s.state !== 'offline') this.log.warn({ code: 'FM_ERR_MODBUS_TIMEOUT' }, `modbus slave ${this.slave.device} (unit ${this.slave.unit}) stopped answering; polling it with backoff`);
      this.s.state = 'offline';
    } else if (linkDown < this.plan.length) {
      // It answered something (an exception is an answer too): online.
      if (this.s.state === 'offline') this.log.info({ afterFailures: this.s.consecutiveFailures }, `modbus slave ${this.slave.device} answers again`);
      this.s.state = 'online';
      this.s.consecutiveFailures = 0;
    }
    if (readings.length > 0) this.submit(readings);
  }

  private collect(read: PlannedRead, registers: Uint16Array | undefined, bits: boolean[] | undefined, ts: number, out: Reading[]): void {
    for (const { spec, offset } of read.items) {
      const value = bits ? bits[offset]! : decodeRegisters(spec, registers!, offset);
      if (typeof value === 'number' && !Number.isFinite(value)) {
        this.s.nonFinite++;
        continue;
      }
      const r: Reading = { series: `${this.slave.device}/${spec.sensor}`, ts, value };
      if (spec.unit !== null) r.unit = spec.unit;
      out.push(r);
    }
  }

  private submit(readings: Reading[]): void {
    this.s.readings += readings.length;
    this.uncommitted++;
    this.deps.sink.submit(this.slave.device, readings).then(
      () => {
        this.uncommitted--;
        this.s.readingsCommitted += readings.length;
      },
      (err: Error & { code?: string }) => {
        this.uncommitted--;
        this.s.submitFailed++;
        this.limited.error('submit', { code: err.code, err: err.message }, `modbus readings of ${this.slave.device} refused by the store`);
      },
    );
  }

  private fail(fault: ModbusFault, read: PlannedRead, err: Error): void {
    this.errors[fault]++;
    const code = faultCode(fault);
    const { fc, address, quantity } = read.request;
    const sensors = read.items.map((i) => i.spec.sensor).join(', ');
    this.lastError = { fault, code, message: err.message, at: this.deps.clock.now() };
    const detail = fault === 'illegal_address' ? `the device refuses function ${fc} address ${address} (${quantity} from there: ${sensors}); fix that register map entry` : err.message;
    this.limited.warn(fault, { code, fault, fc, address, quantity }, `modbus ${this.slave.device} (unit ${this.slave.unit}): ${codedMessage(code, detail, modbusErrors[code].howToSolve)}`);
  }
}
