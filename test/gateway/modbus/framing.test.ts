/**
 * RTU and TCP framing against the written vectors (gateway/src/ingest/modbus/vectors.json, some
 * from public sources), and fast-check on the RTU response decoder: random bytes, frames cut at
 * every position, CRC flips.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc16Modbus } from '#gateway/ingest/modbus/crc16';
import { ModbusFaultError } from '#gateway/ingest/modbus/errors';
import { decodeResponse, encodeRequest, type ModbusRequest } from '#gateway/ingest/modbus/pdu';
import { decodeRtuResponse, encodeRtuFrame, interFrameGapMs } from '#gateway/ingest/modbus/rtu-frame';
import { encodeTcpFrame, TcpFrameSplitter } from '#gateway/ingest/modbus/tcp-frame';
import { decodeRegisters } from '#gateway/ingest/modbus/register-codec';
import { parseGatewayConfig } from '#gateway/config/index';

const vectors = JSON.parse(readFileSync(new URL('../../../gateway/src/ingest/modbus/vectors.json', import.meta.url), 'utf8')) as {
  crc: { bytes: string; crc: string }[];
  requests: { unit: number; request: ModbusRequest; pdu: string; rtu: string; tcp: string }[];
  responses: { unit: number; for: number; pdu: string; rtu: string; tcp: string; registers?: number[] | null; fault?: string; float32?: number }[];
};
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('Modbus framing vectors', () => {
  it('CRC-16/MODBUS', () => {
    for (const v of vectors.crc) expect(crc16Modbus(hex(v.bytes)).toString(16).padStart(4, '0')).toBe(v.crc);
  });

  it('encodes every request as PDU, RTU frame and MBAP frame', () => {
    for (const v of vectors.requests) {
      const pdu = encodeRequest(v.request);
      expect(toHex(pdu)).toBe(v.pdu);
      expect(toHex(encodeRtuFrame(v.unit, pdu))).toBe(v.rtu);
      expect(toHex(encodeTcpFrame(1, v.unit, pdu))).toBe(v.tcp);
    }
  });

  it('decodes every response from RTU and TCP, exceptions to their fault', () => {
    for (const v of vectors.responses) {
      const req = vectors.requests[v.for]!;
      const d = decodeRtuResponse(hex(v.rtu), v.unit, req.request.fc);
      expect(d.kind).toBe('frame');
      if (d.kind !== 'frame') continue;
      expect(toHex(d.pdu)).toBe(v.pdu);
      const { frames } = new TcpFrameSplitter().push(hex(v.tcp));
      expect(frames.map((f) => [f.transaction, f.unit, toHex(f.pdu)])).toEqual([[1, v.unit, v.pdu]]);
      if (v.fault) {
        expect(() => decodeResponse(req.request, d.pdu)).toThrow(ModbusFaultError);
        try {
          decodeResponse(req.request, d.pdu);
        } catch (err) {
          expect((err as ModbusFaultError).fault).toBe(v.fault);
        }
      } else {
        const r = decodeResponse(req.request, d.pdu);
        expect(r.registers ? [...r.registers] : null).toEqual(v.registers ?? null);
        if (v.float32 !== undefined) {
          const spec = parseGatewayConfig({ modbus: { tcp: [{ host: 'x', slaves: [{ unit: 1, device: 'd', registers: [{ sensor: 'v', function: 'input', address: 0, type: 'float32' }] }] }] } }).modbus.tcp[0]!.slaves[0]!.registers[0]!;
          expect(decodeRegisters(spec, r.registers!, 0)).toBe(v.float32);
        }
      }
    }
  });

  it('refuses a response to another unit, function or length', () => {
    const ok = hex(vectors.responses[1]!.rtu);
    expect(decodeRtuResponse(ok, 2, 3)).toMatchObject({ kind: 'bad', fault: 'wrong_unit' });
    expect(decodeRtuResponse(ok, 1, 4)).toMatchObject({ kind: 'bad', fault: 'wrong_function' });
    expect(() => decodeResponse({ fc: 3, address: 1, quantity: 2 }, hex('0302002a'))).toThrow(/byte count/);
  });

  it('splits an MBAP stream cut anywhere and refuses a non-Modbus header', () => {
    const stream = Buffer.concat(vectors.responses.map((v) => Buffer.from(v.tcp, 'hex')));
    for (let cut = 0; cut <= stream.length; cut++) {
      const s = new TcpFrameSplitter();
      const a = s.push(stream.subarray(0, cut));
      const b = s.push(stream.subarray(cut));
      expect([...a.frames, ...b.frames].length).toBe(vectors.responses.length);
    }
    expect(new TcpFrameSplitter().push(hex('0001000100060103000000')).error).toMatch(/protocol 1/);
    expect(new TcpFrameSplitter().push(hex('000100000fff01')).error).toMatch(/length 4095/);
  });

  it('t3.5 is 3.5 characters of 11 bits, fixed at 1.75 ms above 19200 baud', () => {
    expect(interFrameGapMs(9600)).toBeCloseTo(4.0104, 3);
    expect(interFrameGapMs(19200)).toBeCloseTo(2.0052, 3);
    expect(interFrameGapMs(115200)).toBe(1.75);
  });
});

describe('RTU response decoder (fast-check)', () => {
  const fcs = fc.constantFrom(1, 2, 3, 4, 5, 6, 15, 16);

  it('is total on random bytes: one of incomplete / frame / bad, never a throw, never past the input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 247 }), fcs, (bytes, unit, f) => {
        const d = decodeRtuResponse(bytes, unit, f);
        expect(['incomplete', 'frame', 'bad']).toContain(d.kind);
        if (d.kind === 'frame') {
          expect(d.length).toBeLessThanOrEqual(bytes.length);
          expect(crc16Modbus(bytes, 0, d.length)).toBe(0); // a whole frame's CRC over itself is 0
        }
      }),
      { numRuns: 5000 },
    );
  });

  const responses = fc.oneof(
    fc.record({ f: fc.constantFrom(3, 4), regs: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 125 }) }).map(({ f, regs }) => {
      const pdu = new Uint8Array(2 + regs.length * 2);
      pdu[0] = f;
      pdu[1] = regs.length * 2;
      regs.forEach((r, i) => ((pdu[2 + 2 * i] = r >> 8), (pdu[3 + 2 * i] = r & 0xff)));
      return { f, pdu };
    }),
    fc.record({ f: fc.constantFrom(1, 2), n: fc.integer({ min: 1, max: 250 }) }).map(({ f, n }) => ({ f, pdu: Uint8Array.of(f, n, ...new Array<number>(n).fill(0x5a)) })),
    fc.record({ f: fc.constantFrom(5, 6, 15, 16), tail: fc.uint8Array({ minLength: 4, maxLength: 4 }) }).map(({ f, tail }) => ({ f, pdu: Uint8Array.of(f, ...tail) })),
    fc.record({ f: fcs, code: fc.integer({ min: 1, max: 11 }) }).map(({ f, code }) => ({ f, pdu: Uint8Array.of(f | 0x80, code) })),
  );

  it('a frame cut at every position is incomplete until its last byte, then whole', () => {
    fc.assert(
      fc.property(responses, fc.integer({ min: 1, max: 247 }), ({ f, pdu }, unit) => {
        const frame = encodeRtuFrame(unit, pdu);
        for (let cut = 0; cut < frame.length; cut++) expect(decodeRtuResponse(frame.subarray(0, cut), unit, f).kind).toBe('incomplete');
        const d = decodeRtuResponse(frame, unit, f);
        expect(d).toMatchObject({ kind: 'frame', length: frame.length });
        if (d.kind === 'frame') expect(toHex(d.pdu)).toBe(toHex(pdu));
      }),
      { numRuns: 500 },
    );
  });

  it('any single bit flipped in the data or CRC is caught (crc, or a wrong function/length)', () => {
    fc.assert(
      fc.property(responses, fc.integer({ min: 1, max: 247 }), fc.nat(), fc.integer({ min: 0, max: 7 }), ({ f, pdu }, unit, at, bit) => {
        const frame = encodeRtuFrame(unit, pdu).slice();
        const i = 1 + (at % (frame.length - 1)); // the unit byte has its own check (wrong_unit)
        frame[i]! ^= 1 << bit;
        const d = decodeRtuResponse(frame, unit, f);
        expect(d.kind).not.toBe('frame');
      }),
      { numRuns: 3000 },
    );
  });
});
