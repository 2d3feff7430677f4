/**
 * The Modbus TCP master against a server nobody here wrote (Debian python3-pymodbus), with mbpoll
 * as a second reference client reading the same registers.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '#gateway/config/index';
import { ModbusIngest } from '#gateway/ingest/modbus/modbus-ingest';
import { RecordingSink, recordingLogger, waitFor } from '../serial/fakes.js';
import { haveMbpoll, havePymodbus, mbpoll, PymodbusServer } from './pymodbus.js';
import { unit1Expected, unit1Registers, unit1Tables, unit2Registers, unit2Tables } from './register-layout.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(slaves: ConstructorParameters<typeof PymodbusServer>[0]['slaves']): Promise<PymodbusServer> {
  const s = await new PymodbusServer({ mode: 'tcp', slaves }).start();
  cleanups.push(() => s.kill());
  return s;
}

function master(port: number, slaves: unknown[], extra: Record<string, unknown> = {}) {
  const config = parseGatewayConfig({ modbus: { tcp: [{ host: '127.0.0.1', port, slaves }], ...extra } }).modbus;
  const sink = new RecordingSink();
  const logger = recordingLogger();
  const ingest = new ModbusIngest({ config, sink, logger, backoff: { initialMs: 50, maxMs: 400 } });
  cleanups.push(() => ingest.stop());
  ingest.start();
  return { ingest, sink, logger };
}

function latest(sink: RecordingSink, device: string): Map<string, { value: unknown; unit?: string; ts: number }> {
  const m = new Map<string, { value: unknown; unit?: string; ts: number }>();
  for (const r of sink.readings()) if (r.series.startsWith(`${device}/`)) m.set(r.series.slice(device.length + 1), r);
  return m;
}

describe('Modbus TCP master against pymodbus', () => {
  beforeAll(() => {
    expect(havePymodbus(), 'python3-pymodbus is required (.ci/apt-packages)').toBe(true);
    expect(haveMbpoll(), 'mbpoll is required (.ci/apt-packages)').toBe(true);
  });

  it('decodes every type and word order, scale and offset, bits and strings, and agrees with mbpoll', async () => {
    const s = await server({ 1: unit1Tables() });
    const { ingest, sink } = master(s.port, [{ unit: 1, device: 'plc', pollMs: 100, registers: unit1Registers() }]);
    const expected = unit1Expected();
    await waitFor(() => latest(sink, 'plc').size === Object.keys(expected).length, 'a full poll of unit 1');
    const got = latest(sink, 'plc');
    for (const [sensor, value] of Object.entries(expected)) expect(got.get(sensor)?.value, sensor).toBe(value);
    expect(got.get('scaled')?.unit).toBe('Cel');
    expect(got.get('power')?.unit).toBe('W');
    // One poll = one timestamp for every reading of it.
    const first = sink.batches[0]!.readings;
    expect(new Set(first.map((r) => r.ts)).size).toBe(1);
    expect(ingest.stats().slaves[0]!.errors.timeout).toBe(0);

    // mbpoll, an independent client (libmodbus), reads the same registers the same way.
    const host = ['127.0.0.1', '-m', 'tcp', '-p', String(s.port), '-a', '1'];
    expect(Number(mbpoll([...host, '-t', '4:float', '-B', '-r', '0'])[0])).toBeCloseTo(123.456, 3); // ABCD
    expect(Number(mbpoll([...host, '-t', '4:float', '-r', '2'])[0])).toBeCloseTo(123.456, 3); // CDAB is mbpoll's default word order
    expect(Number(mbpoll([...host, '-t', '4:int', '-B', '-r', '8'])[0])).toBe(-123456789);
    expect(Number(mbpoll([...host, '-t', '4:int', '-r', '10'])[0])).toBe(-123456789);
    expect(Number(mbpoll([...host, '-t', '3:float', '-B', '-r', '0'])[0])).toBe(50);
    expect(mbpoll([...host, '-t', '0', '-r', '0', '-c', '4'])).toEqual(['1', '0', '1', '1']);
  });

  it('coalesces into the fewest requests within 125 registers / 2000 coils (counted by the server)', async () => {
    const s = await server({ 1: unit1Tables(), 2: unit2Tables() });
    const { ingest, sink } = master(s.port, [
      { unit: 1, device: 'plc', pollMs: 60_000, registers: unit1Registers() },
      { unit: 2, device: 'big', pollMs: 60_000, registers: unit2Registers() },
    ]);
    await waitFor(() => ingest.stats().slaves.every((x) => x.pollsOk === 1), 'one poll of each slave');
    await waitFor(() => latest(sink, 'big').size === 2230, 'all of unit 2');
    // Unit 1: one holding read (84 registers), two input reads (0..1 and 200 are 198 apart), one coil, one discrete.
    expect([s.count(1, 3), s.count(1, 4), s.count(1, 1), s.count(1, 2)]).toEqual([1, 2, 1, 1]);
    // Unit 2: 130 registers = 125 + 5; 2100 coils = 2000 + 100.
    expect([s.count(2, 3), s.count(2, 1)]).toEqual([2, 2]);
    expect(s.requests.filter((r) => r.unit === 2 && r.fc === 3).map((r) => r.count)).toEqual([125, 5]);
    expect(s.requests.filter((r) => r.unit === 2 && r.fc === 1).map((r) => r.count)).toEqual([2000, 100]);
    const big = latest(sink, 'big');
    expect(big.get('r129')?.value).toBe(129);
    expect(big.get('c2097')?.value).toBe(2097 % 3 === 0);
    expect(big.get('c2099')?.value).toBe(false);
    expect(big.get('c2001')?.value).toBe(true);
    expect(big.get('c1998')?.value).toBe(true);
    expect(big.get('c1999')?.value).toBe(false);
  });

  it('counts exception responses per slave and names the refused address', async () => {
    const s = await server({ 1: { hr: { 0: [1, 2] } } });
    const { ingest, logger } = master(s.port, [
      { unit: 1, device: 'plc', pollMs: 100, registers: [{ sensor: 'ok', function: 'holding', address: 0 }, { sensor: 'missing', function: 'holding', address: 40 }] },
    ]);
    await waitFor(() => ingest.stats().slaves[0]!.errors.illegal_address >= 2, 'illegal address exceptions');
    const st = ingest.stats().slaves[0]!;
    expect(st.state).toBe('online');
    expect(st.lastError?.code).toBe('FM_ERR_MODBUS_EXCEPTION');
    const line = logger.lines.find((l) => l.msg?.includes('refuses function 3 address 40'));
    expect(line, 'a log line naming the refused address').toBeDefined();
    // Rate-limited: one line per slave and reason per interval, however many polls failed.
    expect(logger.lines.filter((l) => (l.obj as { fault?: string }).fault === 'illegal_address').length).toBe(1);
    // Exceptions are answers: not retried, the slave is not offline.
    expect(s.requests.filter((r) => r.address === 40).length).toBe(st.errors.illegal_address);
  });

  it('a silent unit beside a live one costs the live one at most its own timeout', async () => {
    const s = await server({ 1: { hr: { 0: [42] } } });
    const { ingest, sink } = master(s.port, [
      { unit: 1, device: 'live', pollMs: 200, timeoutMs: 500, registers: [{ sensor: 'v', function: 'holding', address: 0 }] },
      { unit: 9, device: 'dead', pollMs: 200, timeoutMs: 150, retries: 2, registers: [{ sensor: 'v', function: 'holding', address: 0 }] },
    ]);
    await waitFor(() => (ingest.stats().slaves[1]!.state === 'offline'), 'the dead unit offline');
    const before = ingest.stats().slaves[0]!;
    await waitFor(() => ingest.stats().slaves[0]!.pollsOk >= before.pollsOk + 10, 'ten more live polls');
    const [live, dead] = ingest.stats().slaves;
    expect(dead!.errors.timeout).toBeGreaterThan(0);
    expect(live!.pollsFailed - before.pollsFailed).toBe(0);
    expect(live!.pollsSkipped - before.pollsSkipped).toBe(0);
    expect(live!.errors.timeout).toBe(0);
    // Waited behind at most one 150 ms timeout of the dead one (plus the machine's scheduling).
    expect(live!.maxLateMs).toBeLessThan(150 * 3 + 100);
    expect(latest(sink, 'live').get('v')?.value).toBe(42);
  });

  it('resumes by itself when the device is killed mid-poll and restarted on the same port', async () => {
    const s = await server({ 1: { hr: { 0: [7] } } });
    const { ingest, sink } = master(s.port, [{ unit: 1, device: 'plc', pollMs: 50, timeoutMs: 200, registers: [{ sensor: 'v', function: 'holding', address: 0 }] }]);
    await waitFor(() => sink.readings().length >= 3, 'first readings');
    await s.kill();
    await waitFor(() => ingest.stats().buses[0]!.lost >= 1, 'the connection lost');
    const atLoss = sink.readings().length;
    await waitFor(() => ingest.stats().slaves[0]!.errors.link_down > 0, 'polls failing while down');
    await s.start();
    await waitFor(() => sink.readings().length >= atLoss + 3, 'readings again after the restart');
    expect(ingest.stats().buses[0]!.opens).toBeGreaterThanOrEqual(2);
  });
});
