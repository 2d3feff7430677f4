/**
 * In-memory Modbus buses for deterministic tests: a SerialLinkOpener whose ports (RTU) or
 * addresses (TCP, `host:port`) have SimulatedSlaves behind them. Answers arrive on the injected
 * clock after `latencyMs`, so a ManualClock test sees exact timeouts, gaps and backoff. Built on
 * serial ingest's MemorySerialLinks (plug, unplug, RTS levels).
 */
import type { Clock } from '@fieldmesh/device-sdk';
import { MemorySerialLinks } from '../serial/memory-link.js';
import type { SerialLink, SerialLinkEvents, SerialLinkOpener } from '../serial/serial-link.js';
import { crc16Modbus } from './crc16.js';
import { encodeRtuFrame } from './rtu-frame.js';
import { encodeTcpFrame, TcpFrameSplitter } from './tcp-frame.js';
import { SimulatedSlave } from './simulated-slave.js';

interface BusPort {
  mode: 'rtu' | 'tcp';
  slaves: Map<number, SimulatedSlave>;
  /** Units that hear but never answer. */
  silent: Set<number>;
  /** Flip a CRC bit of the next N answers. */
  corruptNext: number;
  /** Monotonic times requests arrived (gap checks). */
  arrivals: number[];
}

export class MemoryModbusBus implements SerialLinkOpener {
  readonly links = new MemorySerialLinks();
  private readonly ports = new Map<string, BusPort>();
  latencyMs = 5;

  constructor(private readonly clock: Clock) {}

  /** Adds a port (RTU path or TCP `host:port`) and returns its slave for `unit`. */
  slave(address: string, unit: number, mode: 'rtu' | 'tcp' = 'rtu'): SimulatedSlave {
    let port = this.ports.get(address);
    if (!port) {
      port = { mode, slaves: new Map(), silent: new Set(), corruptNext: 0, arrivals: [] };
      this.ports.set(address, port);
      this.links.plug(address);
    }
    let s = port.slaves.get(unit);
    if (!s) port.slaves.set(unit, (s = new SimulatedSlave()));
    return s;
  }

  port(address: string): BusPort {
    const p = this.ports.get(address);
    if (!p) throw new Error(`no bus at ${address}`);
    return p;
  }

  async open(address: string, baud: number, events: SerialLinkEvents): Promise<SerialLink> {
    const link = await this.links.open(address, baud, events);
    const port = this.port(address);
    const splitter = new TcpFrameSplitter();
    const write = link.write.bind(link);
    link.write = async (bytes: Uint8Array) => {
      await write(bytes);
      port.arrivals.push(this.clock.monotonic());
      if (port.mode === 'rtu') this.rtu(address, port, bytes);
      else for (const f of splitter.push(bytes).frames) this.reply(address, port, f.unit, f.pdu, (pdu) => encodeTcpFrame(f.transaction, f.unit, pdu));
    };
    return link;
  }

  private rtu(address: string, port: BusPort, frame: Uint8Array): void {
    if (frame.length < 4 || crc16Modbus(frame) !== 0) return; // a slave ignores a frame with a bad CRC
    const unit = frame[0]!;
    this.reply(address, port, unit, frame.subarray(1, frame.length - 2), (pdu) => encodeRtuFrame(unit, pdu));
  }

  private reply(address: string, port: BusPort, unit: number, pdu: Uint8Array, frame: (pdu: Uint8Array) => Uint8Array): void {
    const slave = port.slaves.get(unit);
    if (!slave || port.silent.has(unit)) return;
    const out = frame(slave.answer(pdu)).slice();
    if (port.corruptNext > 0) {
      port.corruptNext--;
      out[out.length - 1]! ^= 0x01;
    }
    this.clock.setTimeout(() => this.links.emit(address, out), this.latencyMs);
  }
}
