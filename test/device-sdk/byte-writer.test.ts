import { describe, expect, it } from 'vitest';
import { ByteWriter } from '@fieldmesh/device-sdk/byte-writer';
import { ByteReader } from '@fieldmesh/device-sdk/byte-reader';

describe('ByteWriter', () => {
  it('writes big-endian fields and LEB128 varints, growing past its first buffer', () => {
    const w = new ByteWriter(2);
    w.u8(0x1ff).u16(0x0102).u32(0xfffffffe).u48(2 ** 40 + 5).i8(-1).i16(-2).i32(-3).uvarint(300).svarint(-3).text('é');
    expect(w.finish().toString('hex')).toBe('ff' + '0102' + 'fffffffe' + '010000000005' + 'ff' + 'fffe' + 'fffffffd' + 'ac02' + '05' + '02c3a9');
    expect(w.length).toBe(26);
    const f = new ByteWriter().f32(1.5).f64(-2);
    expect(f.finish().toString('hex')).toBe('3fc00000' + 'c000000000000000');
  });

  it('finish is a view, copy survives a reset and reuse, patchU16 rewrites in place', () => {
    const w = new ByteWriter(8).u16(0).u8(7);
    w.patchU16(0, 0xabcd);
    const kept = w.copy();
    const view = w.finish();
    w.reset().u8(1).u8(2).u8(3);
    expect(kept.toString('hex')).toBe('abcd07');
    expect(view.toString('hex')).toBe('010203');
  });

  it('throws its overflow error past maxBytes, counting only the bytes a varint really takes', () => {
    const w = new ByteWriter({ maxBytes: 4, overflow: (n) => new Error(`need ${n}`) });
    w.u16(1).uvarint(1).uvarint(2);
    expect(w.length).toBe(4);
    expect(() => w.u8(0)).toThrow('need 5');
    const v = new ByteWriter({ maxBytes: 3 }).u8(0);
    expect(() => v.uvarint(2 ** 21)).toThrow(RangeError);
  });
});

describe('ByteReader', () => {
  it('reads back what ByteWriter wrote, and an overrun is the format\'s own error, not a RangeError', () => {
    const buf = new ByteWriter().u8(7).u16(0x0102).u32(0xfffffffe).u48(2 ** 40 + 5).bytes(Buffer.from('ab')).copy();
    const r = new ByteReader(buf, (need, at, length) => new SyntaxError(`need ${need} at ${at} of ${length}`));
    expect([r.u8(), r.u16(), r.u32(), r.u48(), r.bytes(2).toString()]).toEqual([7, 0x0102, 0xfffffffe, 2 ** 40 + 5, 'ab']);
    expect(r.remaining).toBe(0);
    expect(() => r.u16()).toThrow(new SyntaxError(`need 2 at ${buf.length} of ${buf.length}`));
  });
});
