/**
 * A Modbus slave in memory: register tables and the server side of the PDU exchange. The
 * in-memory twin for deterministic tests (behind MemorySerialLinks) and the simulated devices of
 * the benchmarks (on a pty or a TCP socket). Unmapped addresses answer exception 2, as the
 * application protocol asks (§7, "ILLEGAL DATA ADDRESS").
 */
import { FC } from './pdu.js';

export class SimulatedSlave {
  readonly coils = new Map<number, boolean>();
  readonly discrete = new Map<number, boolean>();
  readonly holding = new Map<number, number>();
  readonly input = new Map<number, number>();
  /** Requests served, by function code (coalescing tests count them). */
  readonly requests = new Map<number, number>();
  /** When set, every request gets this exception code. */
  exception?: number;

  setRegisters(table: 'holding' | 'input', address: number, values: number[]): void {
    values.forEach((v, i) => this[table].set(address + i, v & 0xffff));
  }

  /** The response PDU to a request PDU. */
  answer(pdu: Uint8Array): Uint8Array {
    const fc = pdu[0]!;
    this.requests.set(fc, (this.requests.get(fc) ?? 0) + 1);
    const u16 = (at: number) => (pdu[at]! << 8) | pdu[at + 1]!;
    const ex = (code: number) => Uint8Array.of(fc | 0x80, code);
    if (this.exception !== undefined) return ex(this.exception);
    if (pdu.length < 5) return ex(3);
    const address = u16(1);
    const qty = u16(3);
    switch (fc) {
      case FC.readCoils:
      case FC.readDiscreteInputs: {
        const table = fc === FC.readCoils ? this.coils : this.discrete;
        if (qty < 1 || qty > 2000) return ex(3);
        const out = new Uint8Array(2 + Math.ceil(qty / 8));
        out[0] = fc;
        out[1] = out.length - 2;
        for (let i = 0; i < qty; i++) {
          const v = table.get(address + i);
          if (v === undefined) return ex(2);
          if (v) out[2 + (i >> 3)]! |= 1 << (i & 7);
        }
        return out;
      }
      case FC.readHoldingRegisters:
      case FC.readInputRegisters: {
        const table = fc === FC.readHoldingRegisters ? this.holding : this.input;
        if (qty < 1 || qty > 125) return ex(3);
        const out = new Uint8Array(2 + 2 * qty);
        out[0] = fc;
        out[1] = 2 * qty;
        for (let i = 0; i < qty; i++) {
          const v = table.get(address + i);
          if (v === undefined) return ex(2);
          out[2 + 2 * i] = v >>> 8;
          out[3 + 2 * i] = v & 0xff;
        }
        return out;
      }
      case FC.writeSingleCoil:
        if (!this.coils.has(address)) return ex(2);
        if (qty !== 0xff00 && qty !== 0) return ex(3);
        this.coils.set(address, qty === 0xff00);
        return pdu.slice(0, 5);
      case FC.writeSingleRegister:
        if (!this.holding.has(address)) return ex(2);
        this.holding.set(address, qty);
        return pdu.slice(0, 5);
      case FC.writeMultipleRegisters: {
        if (pdu.length < 6 + 2 * qty) return ex(3);
        for (let i = 0; i < qty; i++) if (!this.holding.has(address + i)) return ex(2);
        for (let i = 0; i < qty; i++) this.holding.set(address + i, u16(6 + 2 * i));
        return pdu.slice(0, 5);
      }
      default:
        return ex(1);
    }
  }
}
