/**
 * Compiles a C program against device-sdk/c/fieldmesh.h with a strict C99 gcc, runs it, and
 * checks its frames byte-for-byte against the TypeScript encoder (the vectors plus random frames)
 * and that the TypeScript stream decoder reads them.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeFrame, FrameStreamDecoder, pickType, type FrameInput } from '#device-sdk/frame/index';
import { createSensorParser } from '#hardware/sensors/index';
import { hex, vectors } from './vectors.js';

const header = fileURLToPath(new URL('../../../device-sdk/c/fieldmesh.h', import.meta.url));
const sketch = fileURLToPath(new URL('../../../device-sdk/c/examples/fieldmesh_sensor/fieldmesh_sensor.ino', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'fm-c-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cstr = (s: string) => `"${[...Buffer.from(s, 'utf8')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}"`;
const f32bits = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeFloatBE(v);
  return `0x${b.toString('hex')}u`;
};
const f64bits = (v: number) => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(v);
  return `0x${b.toString('hex')}ull`;
};

function cFrame(input: FrameInput): string {
  const lines = [`fm_begin(&f, body, sizeof body, ${cstr(input.device ?? '')}, ${input.seq}u);`];
  if (input.baseTime !== undefined) lines.push(`fm_set_time(&f, ${input.baseTime}ull);`);
  for (const r of input.readings) {
    const type = r.type ?? pickType(r.value);
    const sensor = cstr(String(r.sensor));
    const age = `${r.ageMs ?? 0}ul`;
    const exp = r.exp ?? 0;
    const scaled = () => Math.round(exp < 0 ? (r.value as number) * 10 ** -exp : (r.value as number) / 10 ** exp);
    if (type === 'i8' || type === 'i16') lines.push(`fm_add_${type}(&f, ${sensor}, ${scaled()}, ${exp}, ${age});`);
    else if (type === 'i32') lines.push(`fm_add_i32(&f, ${sensor}, (int32_t)${scaled()}L, ${exp}, ${age});`);
    else if (type === 'f32') lines.push(`fm_add_f32(&f, ${sensor}, f32(${f32bits(r.value as number)}), ${age});`);
    else if (type === 'f64') lines.push(`fm_add_f64(&f, ${sensor}, f64(${f64bits(r.value as number)}), ${age});`);
    else if (type === 'bool') lines.push(`fm_add_bool(&f, ${sensor}, ${r.value ? 1 : 0}, ${age});`);
    else lines.push(`fm_add_str(&f, ${sensor}, ${cstr(r.value as string)}, ${age});`);
  }
  lines.push('emit(&f);');
  return `  {\n    ${lines.join('\n    ')}\n  }`;
}

const name = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9_.:-]{0,10}(\/[a-z0-9]{1,4})?$/), fc.nat(200).map(String));
const reading = fc.oneof(
  fc.record({ sensor: name, value: fc.integer({ min: -2147483648, max: 2147483647 }), ageMs: fc.nat(0xffffffff) }),
  fc.record({ sensor: name, value: fc.integer({ min: -32768, max: 32767 }), type: fc.constant('i16' as const), exp: fc.integer({ min: -8, max: 7 }) }).map((r) => ({ ...r, value: r.exp < 0 ? r.value / 10 ** -r.exp : r.value * 10 ** r.exp })),
  fc.record({ sensor: name, value: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
  fc.record({ sensor: name, value: fc.float({ noNaN: true, noDefaultInfinity: true }).map((v) => (Object.is(v, -0) ? 0 : v)) }),
  fc.record({ sensor: name, value: fc.boolean(), ageMs: fc.nat(300) }),
  fc.record({ sensor: name, value: fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !s.includes('\0')) }),
);
const randomFrames: FrameInput[] = fc.sample(
  fc.record(
    { device: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,20}$/), seq: fc.nat(65535), baseTime: fc.nat(2 ** 48 - 1), readings: fc.array(reading, { maxLength: 12 }) },
    { requiredKeys: ['seq', 'readings'] },
  ),
  { numRuns: 60, seed: 42 },
);

describe('C99 encoder device-sdk/c/fieldmesh.h', () => {
  const inputs = [...vectors.valid.map((v) => v.input), ...randomFrames];
  let gcc: string | undefined;
  try {
    gcc = execFileSync('gcc', ['--version'], { encoding: 'utf8' });
  } catch {
    console.error('\n!!! gcc is missing: the C encoder is NOT tested (apt-get install gcc) !!!\n');
  }

  it('compiles with gcc -std=c99 -Wall -Wextra -Werror -pedantic and matches the TypeScript encoder byte for byte', () => {
    expect(gcc, 'gcc must be installed').toBeDefined();
    const src = `#include <stdio.h>
#include "${header}"
static float f32(uint32_t b) { float v; memcpy(&v, &b, 4); return v; }
static double f64(uint64_t b) { double v; memcpy(&v, &b, 8); return v; }
static uint8_t body[FM_FRAME_MAX];
static uint8_t wire[FM_WIRE_SIZE(FM_FRAME_MAX)];
static void emit(fm_frame *f) {
  size_t n = fm_end(f, wire, sizeof wire), i;
  if (n == 0) { printf("error %d\\n", f->err); return; }
  for (i = 0; i < n; i++) printf("%02x", wire[i]);
  printf("\\n");
}
int main(void) {
  fm_frame f;
${inputs.map(cFrame).join('\n')}
  return 0;
}
`;
    writeFileSync(join(dir, 'vectors.c'), src);
    execFileSync('gcc', ['-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-O2', '-o', join(dir, 'vectors'), join(dir, 'vectors.c')], { stdio: 'pipe' });
    const lines = execFileSync(join(dir, 'vectors'), { encoding: 'utf8' }).trim().split('\n');
    expect(lines).toHaveLength(inputs.length);
    inputs.forEach((input, i) => expect(lines[i], JSON.stringify(input)).toBe(hex(encodeFrame(input))));
    vectors.valid.forEach((v, i) => expect(lines[i]).toBe(v.wire));

    const dec = new FrameStreamDecoder();
    const frames = dec.push(Buffer.from(lines.join(''), 'hex')).frames;
    expect(dec.stats().rejected).toBe(0);
    expect(frames.map((f) => f.seq)).toEqual(inputs.map((x) => x.seq));

    // And the gateway's serial path (the fm-frame sensor profile) reads every reading of it.
    const parser = createSensorParser('fm-frame', { device: 'port-dev' });
    const readings = parser.feed(Buffer.from(lines.join(''), 'hex'), Date.UTC(2026, 0, 1)).readings;
    expect(parser.stats().rejected).toBe(0);
    expect(readings).toHaveLength(inputs.reduce((n, x) => n + x.readings.length, 0));
  });

  it('reports errors instead of writing past the caller buffer', () => {
    expect(gcc, 'gcc must be installed').toBeDefined();
    const src = `#include "${header}"
int main(void) {
  uint8_t body[16], wire[FM_WIRE_SIZE(16)], tiny[4];
  fm_frame f;
  fm_begin(&f, body, sizeof body, "dev", 1);
  if (fm_add_i32(&f, "temperature", 1, 0, 0) != FM_E_FULL) return 1;
  if (fm_end(&f, wire, sizeof wire) != 0) return 2;
  fm_begin(&f, body, sizeof body, "bad id", 1);
  if (f.err != FM_E_NAME) return 3;
  fm_begin(&f, body, sizeof body, "", 1);
  if (fm_add_i8(&f, "t", 1, 9, 0) != FM_E_RANGE) return 4;
  fm_begin(&f, body, sizeof body, "", 1);
  if (fm_add_i8(&f, "a//b", 1, 0, 0) != FM_E_NAME) return 5;
  fm_begin(&f, body, sizeof body, "", 1);
  fm_add_i8(&f, "t", 1, 0, 0);
  if (fm_end(&f, tiny, sizeof tiny) != 0 || f.err != FM_E_FULL) return 6;
  return 0;
}
`;
    writeFileSync(join(dir, 'errors.c'), src);
    execFileSync('gcc', ['-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-o', join(dir, 'errors'), join(dir, 'errors.c')], { stdio: 'pipe' });
    execFileSync(join(dir, 'errors'));
  });

  it('the Arduino example sketch compiles as C++ against stubs of Serial, millis and delay', () => {
    expect(gcc, 'gcc must be installed').toBeDefined();
    const stub = `#include <stdint.h>
#include <stddef.h>
struct SerialStub { void begin(long) {} size_t write(const uint8_t *, size_t n) { return n; } } Serial;
unsigned long millis() { return 12345; }
void delay(unsigned long) {}
#include "${sketch}"
int main() { setup(); loop(); return 0; }
`;
    writeFileSync(join(dir, 'sketch.cpp'), stub);
    try {
      execFileSync('g++', ['--version'], { stdio: 'pipe' });
    } catch {
      console.error('\n!!! g++ is missing: the Arduino sketch is NOT compiled (apt-get install g++) !!!\n');
      return;
    }
    execFileSync('g++', ['-Wall', '-Wextra', '-Werror', '-I', join(header, '..'), '-o', join(dir, 'sketch'), join(dir, 'sketch.cpp')], { stdio: 'pipe' });
    execFileSync(join(dir, 'sketch'));
  });
});
