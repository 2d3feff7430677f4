/**
 * Coalescing: a slave's register map becomes the fewest read requests within the protocol's
 * limits (125 registers, 2000 bits per read; application protocol §6.1–6.4). Registers of one
 * table are sorted by address and joined while the span stays within the limit and the hole
 * between two wanted ranges is at most `maxGap` registers (reading a hole costs 2 bytes a
 * register on the wire, and some devices refuse holes with an illegal-address exception, so the
 * default is 0: only adjacent ranges join).
 */
import type { RegisterFunction, RegisterSpec } from '../../config/modbus.js';
import { FC, MAX_READ_BITS, MAX_READ_REGISTERS, type ReadRequest } from './pdu.js';

export interface PlannedRead {
  request: ReadRequest;
  /** The registers this read serves, with their offset inside the response. */
  items: { spec: RegisterSpec; offset: number }[];
}

const FC_OF: Record<RegisterFunction, ReadRequest['fc']> = { coil: FC.readCoils, discrete: FC.readDiscreteInputs, holding: FC.readHoldingRegisters, input: FC.readInputRegisters };

export function planReads(registers: readonly RegisterSpec[], maxGap = 0): PlannedRead[] {
  const out: PlannedRead[] = [];
  for (const fn of ['coil', 'discrete', 'holding', 'input'] as const) {
    const regs = registers.filter((r) => r.function === fn).sort((a, b) => a.address - b.address);
    const limit = fn === 'coil' || fn === 'discrete' ? MAX_READ_BITS : MAX_READ_REGISTERS;
    // Bits are cheap (8 a byte): a hole of maxGap registers is worth 16× as many bits.
    const gap = fn === 'coil' || fn === 'discrete' ? maxGap * 16 : maxGap;
    let cur: { start: number; end: number; items: RegisterSpec[] } | undefined;
    const flush = () => {
      if (!cur) return;
      out.push({ request: { fc: FC_OF[fn], address: cur.start, quantity: cur.end - cur.start }, items: cur.items.map((spec) => ({ spec, offset: spec.address - cur!.start })) });
      cur = undefined;
    };
    for (const r of regs) {
      const end = r.address + r.length;
      if (cur && r.address - cur.end <= gap && end - cur.start <= limit) {
        cur.end = Math.max(cur.end, end);
        cur.items.push(r);
      } else {
        flush();
        cur = { start: r.address, end, items: [r] };
      }
    }
    flush();
  }
  return out;
}
