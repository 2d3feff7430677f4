/**
 * Modbus PDUs (function code + data), the part RTU and TCP share (Modbus Application Protocol
 * Specification V1.1b3, §6). Requests are built here; responses are checked against the request
 * they answer, so a reply to something else is a counted fault, never a wrong reading.
 */
import { ModbusFaultError, exceptionFault } from './errors.js';

export const FC = {
  readCoils: 0x01,
  readDiscreteInputs: 0x02,
  readHoldingRegisters: 0x03,
  readInputRegisters: 0x04,
  writeSingleCoil: 0x05,
  writeSingleRegister: 0x06,
  writeMultipleCoils: 0x0f,
  writeMultipleRegisters: 0x10,
} as const;

/** §6.1–6.4: a read asks for 1–2000 bits or 1–125 registers (the 253-byte PDU limit). */
export const MAX_READ_BITS = 2000;
export const MAX_READ_REGISTERS = 125;
/** §6.11–6.12: writes of 1–1968 coils or 1–123 registers. */
export const MAX_WRITE_BITS = 1968;
export const MAX_WRITE_REGISTERS = 123;

export interface ReadRequest {
  fc: 0x01 | 0x02 | 0x03 | 0x04;
  address: number;
  quantity: number;
}

export type WriteRequest =
  | { fc: 0x05; address: number; value: boolean }
  | { fc: 0x06; address: number; value: number }
  | { fc: 0x0f; address: number; values: boolean[] }
  | { fc: 0x10; address: number; values: number[] };

export type ModbusRequest = ReadRequest | WriteRequest;

export function isBitRead(fc: number): boolean {
  return fc === FC.readCoils || fc === FC.readDiscreteInputs;
}

export function encodeRequest(req: ModbusRequest): Uint8Array {
  const u16 = (b: Uint8Array, at: number, v: number) => {
    b[at] = (v >>> 8) & 0xff;
    b[at + 1] = v & 0xff;
  };
  switch (req.fc) {
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x04: {
      const max = isBitRead(req.fc) ? MAX_READ_BITS : MAX_READ_REGISTERS;
      if (req.quantity < 1 || req.quantity > max) throw new RangeError(`read of ${req.quantity} is outside 1..${max}`);
      const b = new Uint8Array(5);
      b[0] = req.fc;
      u16(b, 1, req.address);
      u16(b, 3, req.quantity);
      return b;
    }
    case 0x05: {
      const b = new Uint8Array(5);
      b[0] = req.fc;
      u16(b, 1, req.address);
      u16(b, 3, req.value ? 0xff00 : 0x0000);
      return b;
    }
    case 0x06: {
      const b = new Uint8Array(5);
      b[0] = req.fc;
      u16(b, 1, req.address);
      u16(b, 3, req.value & 0xffff);
      return b;
    }
    case 0x0f: {
      const n = req.values.length;
      if (n < 1 || n > MAX_WRITE_BITS) throw new RangeError(`write of ${n} coils is outside 1..${MAX_WRITE_BITS}`);
      const bytes = Math.ceil(n / 8);
      const b = new Uint8Array(6 + bytes);
      b[0] = req.fc;
      u16(b, 1, req.address);
      u16(b, 3, n);
      b[5] = bytes;
      req.values.forEach((v, i) => {
        if (v) b[6 + (i >> 3)]! |= 1 << (i & 7);
      });
      return b;
    }
    case 0x10: {
      const n = req.values.length;
      if (n < 1 || n > MAX_WRITE_REGISTERS) throw new RangeError(`write of ${n} registers is outside 1..${MAX_WRITE_REGISTERS}`);
      const b = new Uint8Array(6 + 2 * n);
      b[0] = req.fc;
      u16(b, 1, req.address);
      u16(b, 3, n);
      b[5] = 2 * n;
      req.values.forEach((v, i) => u16(b, 6 + 2 * i, v & 0xffff));
      return b;
    }
  }
}

/**
 * Length of a response PDU for `fc` from its first bytes, or undefined when more bytes are needed
 * to know (a read's byte count). An exception PDU is 2 bytes. Used by the RTU decoder, which has
 * no length field to go by.
 */
export function responsePduLength(expectFc: number, pdu: Uint8Array, start: number, available: number): number | undefined {
  if (available < 1) return undefined;
  const fc = pdu[start]!;
  if (fc === (expectFc | 0x80)) return 2;
  if (fc !== expectFc) return -1;
  if (fc >= 1 && fc <= 4) return available < 2 ? undefined : 2 + pdu[start + 1]!;
  return 5;
}

/** What a response carries: the registers or bits read, or nothing for a write's echo. */
export interface ReadResult {
  registers?: Uint16Array;
  bits?: boolean[];
}

/**
 * Checks a response PDU against the request and returns its data. Throws ModbusFaultError:
 * an exception response (its code mapped to a fault), a wrong function, or a byte count or echo
 * that does not match what was asked.
 */
export function decodeResponse(req: ModbusRequest, pdu: Uint8Array): ReadResult {
  const fc = pdu[0];
  if (fc === (req.fc | 0x80)) {
    const code = pdu[1] ?? 0;
    throw new ModbusFaultError(exceptionFault(code), `exception ${code} (${exceptionFault(code)}) for function ${req.fc} at address ${req.address}`, code);
  }
  if (fc !== req.fc) throw new ModbusFaultError('wrong_function', `response function ${fc} to a request of function ${req.fc}`);
  const u16 = (at: number) => (pdu[at]! << 8) | pdu[at + 1]!;
  if (req.fc <= 4) {
    const r = req as ReadRequest;
    const want = isBitRead(r.fc) ? Math.ceil(r.quantity / 8) : r.quantity * 2;
    if (pdu.length < 2 || pdu[1] !== want || pdu.length !== 2 + want) {
      throw new ModbusFaultError('bad_length', `byte count ${pdu[1]} (PDU of ${pdu.length}) where ${want} data bytes were asked for`);
    }
    if (isBitRead(r.fc)) {
      const bits: boolean[] = new Array(r.quantity);
      for (let i = 0; i < r.quantity; i++) bits[i] = ((pdu[2 + (i >> 3)]! >> (i & 7)) & 1) === 1;
      return { bits };
    }
    const registers = new Uint16Array(r.quantity);
    for (let i = 0; i < r.quantity; i++) registers[i] = u16(2 + 2 * i);
    return { registers };
  }
  const sent = encodeRequest(req);
  if (pdu.length !== 5 || !sameBytes(pdu, sent, 5)) {
    throw new ModbusFaultError('bad_length', `write response does not echo the request (${hex(pdu)} for ${hex(sent.subarray(0, 5))})`);
  }
  return {};
}

function sameBytes(a: Uint8Array, b: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
