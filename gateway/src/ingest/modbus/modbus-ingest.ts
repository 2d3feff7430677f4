/**
 * Modbus ingest: one transport per RTU line and TCP endpoint of the `modbus:` config section, one
 * SlavePoller per slave, all handing readings to the same IngestSink as MQTT and serial ingest.
 * The composition root builds it from the validated config:
 *
 *   const modbus = new ModbusIngest({ config: cfg.modbus, sink: ingest, clock, logger });
 *   modbus.start();   // never throws for bus problems: they are counted, logged and retried
 *   await modbus.write('plc-1', 'setpoint', 21.5);   // only with writes: true and writable: true
 */
import { systemClock, silentLogger, type Clock, type Logger } from '@fieldmesh/device-sdk';
import type { ModbusConfig, RegisterSpec, RtuLineConfig, SlaveConfig } from '../../config/modbus.js';
import type { IngestSink } from '../sink.js';
import type { SerialLinkOpener } from '../serial/serial-link.js';
import { autoDirection, gpioDirection, rtsDirection, type DirectionControl } from './direction.js';
import { ModbusError, ModbusFaultError } from './errors.js';
import type { LinkBackoff } from './link-keeper.js';
import { FC, type WriteRequest } from './pdu.js';
import { encodeRegisters } from './register-codec.js';
import { RtuTransport } from './rtu-transport.js';
import { modbusSerialLinks } from './serial-opener.js';
import { SlavePoller, type SlaveStats } from './slave-poller.js';
import { TcpLinkOpener } from './tcp-link.js';
import { TcpTransport } from './tcp-transport.js';
import type { ModbusTransport, TransportStats } from './transport.js';

export interface ModbusIngestOptions {
  config: Readonly<ModbusConfig>;
  sink: IngestSink;
  clock?: Clock;
  logger?: Logger;
  /** Opens RTU lines; default real ports (node-serialport) with each line's framing settings. */
  serialOpener?: (line: Readonly<RtuLineConfig>) => SerialLinkOpener;
  /** Opens TCP connections; default node:net. */
  tcpOpener?: SerialLinkOpener;
  backoff?: Partial<LinkBackoff>;
  /** ms between two log lines of one slave and fault. Default 60 000. */
  logIntervalMs?: number;
  /** Sub-millisecond gap timing (real clock). Default: true unless a clock is given. */
  preciseTiming?: boolean;
}

export interface ModbusIngestStats {
  buses: TransportStats[];
  slaves: SlaveStats[];
  writes: { enabled: boolean; ok: number; refused: number; failed: number };
}

interface Target {
  slave: Readonly<SlaveConfig>;
  transport: ModbusTransport;
}

export class ModbusIngest {
  private readonly transports: ModbusTransport[] = [];
  private readonly pollers: SlavePoller[] = [];
  private readonly byDevice = new Map<string, Target>();
  private readonly writeCounts = { ok: 0, refused: 0, failed: 0 };

  constructor(private readonly opts: ModbusIngestOptions) {
    const clock = opts.clock ?? systemClock;
    const logger = (opts.logger ?? silentLogger).child({ component: 'modbus' });
    const backoff = { initialMs: 500, maxMs: 30_000, ...opts.backoff };
    const precise = opts.preciseTiming ?? opts.clock === undefined;
    for (const line of opts.config.rtu) {
      const opener = opts.serialOpener ? opts.serialOpener(line) : modbusSerialLinks(line);
      const t = new RtuTransport({ path: line.path, baud: line.baud, opener, clock, logger, backoff, direction: directionOf(line), preciseTiming: precise });
      this.add(t, line.slaves, clock, logger);
    }
    for (const ep of opts.config.tcp) {
      const t = new TcpTransport({ host: ep.host, port: ep.port, opener: opts.tcpOpener ?? new TcpLinkOpener(), clock, logger, backoff });
      this.add(t, ep.slaves, clock, logger);
    }
  }

  private add(t: ModbusTransport, slaves: readonly SlaveConfig[], clock: Clock, logger: Logger): void {
    this.transports.push(t);
    const mine = new Map<number, SlavePoller>();
    for (const slave of slaves) {
      const p = new SlavePoller(slave, { transport: t, sink: this.opts.sink, clock, logger, ...(this.opts.logIntervalMs !== undefined ? { logIntervalMs: this.opts.logIntervalMs } : {}) });
      this.pollers.push(p);
      mine.set(slave.unit, p);
      this.byDevice.set(slave.device, { slave, transport: t });
    }
    t.onStrayFault((unit, fault) => mine.get(unit)?.countStray(fault));
  }

  start(): void {
    for (const t of this.transports) t.start();
    // Spread each bus's slaves over (at most the first second of) their interval: a burst of
    // requests at one instant only lengthens the FIFO, it does not get anything read sooner.
    const onBus = new Map<string, SlavePoller[]>();
    for (const p of this.pollers) {
      const bus = p.stats().bus;
      onBus.set(bus, [...(onBus.get(bus) ?? []), p]);
    }
    for (const group of onBus.values()) group.forEach((p, i) => p.start((i / group.length) * Math.min(p.slave.pollMs, 1000)));
  }

  async stop(): Promise<void> {
    for (const p of this.pollers) p.stop();
    // Stopping the transports fails the transactions under way, so no poll waits for a timeout.
    await Promise.all(this.transports.map((t) => t.stop()));
    await Promise.all(this.pollers.map((p) => p.whenIdle()));
  }

  stats(): ModbusIngestStats {
    return { buses: this.transports.map((t) => t.stats()), slaves: this.pollers.map((p) => p.stats()), writes: { enabled: this.opts.config.writes, ...this.writeCounts } };
  }

  /** The pollers, for tests and the benchmark (planned reads per slave). */
  get slavePollers(): readonly SlavePoller[] {
    return this.pollers;
  }

  /**
   * Writes `value` (in the reading's unit: scale and offset are undone) to the register behind
   * `device/sensor`. Throws ModbusError: FM_ERR_MODBUS_WRITE_DENIED (writes off, or not
   * writable), _WRITE_VALUE (unknown sensor, value out of range), _WRITE_FAILED (timeout,
   * exception). Not retried: a write is not idempotent for every device.
   */
  async write(device: string, sensor: string, value: number | boolean | string): Promise<void> {
    const target = this.byDevice.get(device);
    const spec = target?.slave.registers.find((r) => r.sensor === sensor);
    if (!target || !spec) {
      this.writeCounts.refused++;
      throw new ModbusError('FM_ERR_MODBUS_WRITE_VALUE', `no Modbus register ${device}/${sensor} is configured`);
    }
    if (!this.opts.config.writes || !spec.writable) {
      this.writeCounts.refused++;
      throw new ModbusError('FM_ERR_MODBUS_WRITE_DENIED', `${device}/${sensor}: ${this.opts.config.writes ? 'the register is not marked writable' : 'modbus.writes is off'}`);
    }
    const req = writeRequest(spec, value);
    if (typeof req === 'string') {
      this.writeCounts.refused++;
      throw new ModbusError('FM_ERR_MODBUS_WRITE_VALUE', `${device}/${sensor}: ${req}`);
    }
    try {
      await target.transport.transact(target.slave.unit, req, target.slave.timeoutMs);
      this.writeCounts.ok++;
    } catch (err) {
      this.writeCounts.failed++;
      const why = err instanceof ModbusFaultError ? `${err.fault}: ${err.message}` : String(err);
      throw new ModbusError('FM_ERR_MODBUS_WRITE_FAILED', `${device}/${sensor} at ${spec.function} ${spec.address}: ${why}`);
    }
  }
}

function writeRequest(spec: RegisterSpec, value: number | boolean | string): WriteRequest | string {
  if (spec.function === 'coil') {
    if (typeof value === 'boolean') return { fc: FC.writeSingleCoil, address: spec.address, value };
    if (value === 0 || value === 1) return { fc: FC.writeSingleCoil, address: spec.address, value: value === 1 };
    return `a coil takes true/false (or 1/0), not ${JSON.stringify(value)}`;
  }
  const v = typeof value === 'boolean' ? Number(value) : value;
  const regs = encodeRegisters(spec, v);
  if (typeof regs === 'string') return regs;
  return regs.length === 1 ? { fc: FC.writeSingleRegister, address: spec.address, value: regs[0]! } : { fc: FC.writeMultipleRegisters, address: spec.address, values: regs };
}

function directionOf(line: Readonly<RtuLineConfig>): DirectionControl {
  const d = line.direction;
  if (d.mode === 'rts') return rtsDirection(d.activeHigh);
  if (d.mode === 'gpio') return gpioDirection(d.gpioPath!, d.activeHigh);
  return autoDirection;
}
