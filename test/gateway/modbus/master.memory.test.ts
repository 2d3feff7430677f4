/**
 * The Modbus master on in-memory buses with a ManualClock: exact bus timing (one transaction at a
 * time, t3.5 gaps), timeouts, retries and backoff, faults, direction control, writes.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@fieldmesh/device-sdk';
import { parseGatewayConfig } from '#gateway/config/index';
import { MemoryModbusBus } from '#gateway/ingest/modbus/memory-bus';
import { ModbusIngest } from '#gateway/ingest/modbus/modbus-ingest';
import { gpioDirection } from '#gateway/ingest/modbus/direction';
import { interFrameGapMs } from '#gateway/ingest/modbus/rtu-frame';
import { RecordingSink, recordingLogger } from '../serial/fakes.js';

const flush = () => new Promise<void>((r) => setImmediate(r));

/** Moves the clock 1 ms at a time, letting promises settle in between. */
async function run(clock: ManualClock, ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await flush();
  }
}

const PATH = '/dev/ttyRS485';
const reg = (sensor: string, address: number, extra: Record<string, unknown> = {}) => ({ sensor, function: 'holding', address, ...extra });

function setup(modbus: Record<string, unknown>) {
  const clock = new ManualClock();
  const bus = new MemoryModbusBus(clock);
  const config = parseGatewayConfig({ modbus }).modbus;
  for (const l of config.rtu) for (const s of l.slaves) bus.slave(l.path, s.unit).setRegisters('holding', 0, Array.from({ length: 20 }, (_, i) => 100 + i));
  for (const e of config.tcp) for (const s of e.slaves) bus.slave(`${e.host}:${e.port}`, s.unit, 'tcp').setRegisters('holding', 0, Array.from({ length: 20 }, (_, i) => 100 + i));
  const sink = new RecordingSink();
  const logger = recordingLogger();
  const ingest = new ModbusIngest({ config, sink, clock, logger, serialOpener: () => bus, tcpOpener: bus, backoff: { initialMs: 100, maxMs: 400 } });
  return { clock, bus, sink, logger, ingest };
}

describe('Modbus master on an in-memory bus (ManualClock)', () => {
  it('one transaction at a time on an RTU line, each request after t3.5 of silence', async () => {
    const slaves = [1, 2, 3].map((unit) => ({ unit, device: `s${unit}`, pollMs: 100, registers: [reg('a', 0), reg('b', 1)] }));
    const { clock, bus, ingest, sink } = setup({ rtu: [{ path: PATH, baud: 9600, slaves }] });
    bus.latencyMs = 5;
    ingest.start();
    await run(clock, 1000);
    const arrivals = bus.port(PATH).arrivals;
    expect(arrivals.length).toBeGreaterThanOrEqual(29);
    // Next request no sooner than the answer (5 ms) plus t3.5 (4.01 ms at 9600 baud).
    for (let i = 1; i < arrivals.length; i++) expect(arrivals[i]! - arrivals[i - 1]!).toBeGreaterThanOrEqual(5 + interFrameGapMs(9600) - 1e-9);
    expect(new Set(sink.readings().map((r) => r.series))).toEqual(new Set(['s1/a', 's1/b', 's2/a', 's2/b', 's3/a', 's3/b']));
    // The first slot may come before the port is open: that poll waits for it, not a failure.
    expect(ingest.stats().slaves.map((s) => [s.pollsOk, s.pollsFailed])).toEqual([[10, 0], [10, 0], [10, 0]]);
    await ingest.stop();
  });

  it('a dead slave costs the others at most its own timeout; offline it backs off without retries', async () => {
    const { clock, bus, ingest } = setup({
      rtu: [{ path: PATH, baud: 19200, slaves: [
        { unit: 1, device: 'live', pollMs: 100, registers: [reg('a', 0)] },
        { unit: 2, device: 'dead', pollMs: 100, timeoutMs: 50, retries: 2, backoffMaxMs: 800, registers: [reg('a', 0)] },
      ] }],
    });
    bus.port(PATH).silent.add(2);
    ingest.start();
    await run(clock, 6000);
    const [live, dead] = ingest.stats().slaves;
    expect(live!.pollsFailed).toBe(0);
    expect(live!.pollsSkipped).toBe(0);
    // Behind at most one 50 ms attempt of the dead one (its retries queue behind the live one).
    expect(live!.maxLateMs).toBeLessThanOrEqual(50 + 5 + 3);
    expect(dead!.state).toBe('offline');
    // First poll: 1 + 2 retries; then one probe each at 100·2^k ms capped at 800 ms.
    expect(dead!.errors.timeout).toBe(dead!.requests);
    expect(dead!.requests).toBeLessThanOrEqual(3 + Math.ceil(6000 / 100));
    expect(dead!.polls).toBeLessThan(14);
    // The dead one comes back: answered, online, polled at its rate again.
    bus.port(PATH).silent.delete(2);
    await run(clock, 1000);
    expect(ingest.stats().slaves[1]!.state).toBe('online');
    await ingest.stop();
  });

  it('counts CRC errors, wrong units, exceptions and non-finite floats per slave and reason, and logs each at most once per interval', async () => {
    const { clock, bus, ingest, logger, sink } = setup({
      rtu: [{ path: PATH, baud: 115200, slaves: [
        { unit: 1, device: 'm', pollMs: 100, retries: 0, registers: [reg('a', 0), reg('f', 10, { type: 'float32' })] },
        { unit: 2, device: 'x', pollMs: 100, retries: 0, registers: [reg('missing', 500)] },
      ] }],
    });
    bus.slave(PATH, 1).setRegisters('holding', 10, [0x7fc0, 0x0000]); // NaN
    bus.port(PATH).corruptNext = 3;
    ingest.start();
    await run(clock, 2000);
    const [m, x] = ingest.stats().slaves;
    expect(m!.errors.crc + x!.errors.crc).toBe(3);
    expect(m!.nonFinite).toBeGreaterThan(0);
    expect(sink.readings().some((r) => r.series === 'm/f')).toBe(false);
    expect(sink.readings().some((r) => r.series === 'm/a')).toBe(true);
    expect(x!.errors.illegal_address).toBeGreaterThanOrEqual(15);
    expect(x!.state).toBe('online'); // an exception is an answer
    const lines = logger.lines.filter((l) => (l.obj as { fault?: string }).fault === 'illegal_address');
    expect(lines.length).toBe(1);
    expect(lines[0]!.msg).toMatch(/refuses function 3 address 500/);
    await ingest.stop();
  });

  it('a store that is behind makes the poller skip slots instead of queueing readings without bound', async () => {
    const { clock, ingest, sink } = setup({ rtu: [{ path: PATH, slaves: [{ unit: 1, device: 'm', pollMs: 50, registers: [reg('a', 0)] }] }] });
    sink.hold = true;
    ingest.start();
    await run(clock, 2000);
    expect(sink.batches.length).toBe(8);
    expect(ingest.stats().slaves[0]!.pollsSkipped).toBeGreaterThan(20);
    sink.hold = false;
    sink.release();
    await run(clock, 500);
    expect(sink.batches.length).toBeGreaterThan(12);
    const st = ingest.stats().slaves[0]!;
    expect(st.readingsCommitted).toBe(st.readings);
    await ingest.stop();
  });

  it('resumes polling after the port is unplugged and plugged back', async () => {
    const { clock, bus, ingest, sink } = setup({ rtu: [{ path: PATH, slaves: [{ unit: 1, device: 'm', pollMs: 50, registers: [reg('a', 0)] }] }] });
    ingest.start();
    await run(clock, 300);
    const before = sink.readings().length;
    expect(before).toBeGreaterThan(3);
    bus.links.unplug(PATH);
    await run(clock, 1000);
    expect(ingest.stats().buses[0]!.state).toBe('down');
    expect(sink.readings().length).toBe(before);
    bus.links.plug(PATH);
    await run(clock, 1000);
    expect(sink.readings().length).toBeGreaterThan(before + 5);
    expect(ingest.stats().buses[0]).toMatchObject({ state: 'up', lost: 1 });
    await ingest.stop();
  });

  it('TCP: an answer after its timeout is a late frame; the next transaction is not confused by it', async () => {
    const { clock, bus, ingest, sink } = setup({ tcp: [{ host: 'plc.local', slaves: [{ unit: 1, device: 'p', pollMs: 200, timeoutMs: 20, retries: 0, registers: [reg('a', 0)] }] }] });
    bus.latencyMs = 30;
    ingest.start();
    await run(clock, 1000);
    const st = ingest.stats().slaves[0]!;
    expect(st.errors.timeout).toBeGreaterThan(0);
    expect(st.errors.late_frame).toBeGreaterThan(0);
    expect(sink.readings().length).toBe(0);
    bus.latencyMs = 5;
    await run(clock, 2000);
    expect(sink.readings().at(-1)?.value).toBe(100);
    await ingest.stop();
  });

  it('RTS direction: asserted for each request, released before the answer', async () => {
    const { clock, bus, ingest } = setup({ rtu: [{ path: PATH, direction: { mode: 'rts' }, slaves: [{ unit: 1, device: 'm', pollMs: 100, registers: [reg('a', 0)] }] }] });
    ingest.start();
    await run(clock, 350);
    const levels = bus.links.rtsLevels(PATH);
    expect(levels.length).toBeGreaterThanOrEqual(6);
    expect(levels.every((on, i) => on === (i % 2 === 0))).toBe(true);
    await ingest.stop();
    const inverted = setup({ rtu: [{ path: PATH, direction: { mode: 'rts', activeHigh: false }, slaves: [{ unit: 1, device: 'm', pollMs: 100, registers: [reg('a', 0)] }] }] });
    inverted.ingest.start();
    await run(inverted.clock, 150);
    expect(inverted.bus.links.rtsLevels(PATH).slice(0, 2)).toEqual([false, true]);
    await inverted.ingest.stop();
  });

  it('GPIO direction: the value file is 1 while sending and 0 after', async () => {
    const writes: string[] = [];
    const d = gpioDirection('/sys/class/gpio/gpio17/value', true, async (_p, v) => void writes.push(v));
    const fake = { path: 'x', write: async () => void writes.push('frame'), pause() {}, resume() {}, close: async () => {} };
    await d.transmit(fake);
    await fake.write();
    await d.receive(fake);
    expect(writes).toEqual(['1', 'frame', '0']);
    // Through the config, on a real file standing in for sysfs.
    const dir = mkdtempSync(join(tmpdir(), 'fm-gpio-'));
    const value = join(dir, 'value');
    writeFileSync(value, 'x');
    const { clock, ingest, sink } = setup({ rtu: [{ path: PATH, direction: { mode: 'gpio', gpioPath: value }, slaves: [{ unit: 1, device: 'm', pollMs: 100, registers: [reg('a', 0)] }] }] });
    ingest.start();
    // The value file is written through the real fs (libuv threads): give each step real time.
    for (let i = 0; i < 2000 && sink.readings().length === 0; i++) {
      clock.advance(1);
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(sink.readings().length).toBeGreaterThan(0);
    expect(readFileSync(value, 'utf8')).toBe('0');
    await ingest.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes only when enabled, only to writable registers, in the register type', async () => {
    const regs = [reg('ro', 0), reg('sp', 2, { type: 'float32', order: 'CDAB', writable: true }), reg('pct', 4, { scale: 0.1, writable: true }), { sensor: 'run', function: 'coil', address: 0, writable: true }];
    const off = setup({ rtu: [{ path: PATH, slaves: [{ unit: 1, device: 'plc', registers: regs }] }] });
    off.ingest.start();
    await run(off.clock, 10);
    await expect(off.ingest.write('plc', 'sp', 1)).rejects.toMatchObject({ code: 'FM_ERR_MODBUS_WRITE_DENIED' });
    await off.ingest.stop();

    const { clock, bus, ingest } = setup({ writes: true, rtu: [{ path: PATH, slaves: [{ unit: 1, device: 'plc', registers: regs }] }] });
    const slave = bus.slave(PATH, 1);
    slave.coils.set(0, false);
    ingest.start();
    await run(clock, 10);
    const settle = async <T>(p: Promise<T>) => {
      const out = p.then((v) => ({ v }), (e: unknown) => ({ e }));
      await run(clock, 50);
      return out;
    };
    expect(await settle(ingest.write('plc', 'ro', 1))).toMatchObject({ e: { code: 'FM_ERR_MODBUS_WRITE_DENIED' } });
    expect(await settle(ingest.write('plc', 'nope', 1))).toMatchObject({ e: { code: 'FM_ERR_MODBUS_WRITE_VALUE' } });
    expect(await settle(ingest.write('plc', 'pct', 7000))).toMatchObject({ e: { code: 'FM_ERR_MODBUS_WRITE_VALUE' } }); // 70000 raw > uint16
    expect(await settle(ingest.write('plc', 'sp', 21.5))).toEqual({ v: undefined });
    expect([slave.holding.get(2), slave.holding.get(3)]).toEqual([0x0000, 0x41ac]); // 21.5 = 0x41AC0000, CDAB
    expect(await settle(ingest.write('plc', 'pct', 42.3))).toEqual({ v: undefined });
    expect(slave.holding.get(4)).toBe(423);
    expect(await settle(ingest.write('plc', 'run', true))).toEqual({ v: undefined });
    expect(slave.coils.get(0)).toBe(true);
    slave.exception = 6;
    expect(await settle(ingest.write('plc', 'run', false))).toMatchObject({ e: { code: 'FM_ERR_MODBUS_WRITE_FAILED' } });
    expect(ingest.stats().writes).toEqual({ enabled: true, ok: 3, refused: 3, failed: 1 });
    await ingest.stop();
  });
});
