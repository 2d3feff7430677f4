/**
 * The Modbus RTU master on a REAL pseudo-terminal pair (socat), opened by the real serialport
 * package, against Debian's pymodbus RTU server on the other end; mbpoll reads the same line.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '#gateway/config/index';
import { ModbusIngest } from '#gateway/ingest/modbus/modbus-ingest';
import { RecordingSink, recordingLogger, waitFor } from '../serial/fakes.js';
import { haveSocat, PtyPair } from '../serial/pty.js';
import { haveMbpoll, havePymodbus, mbpoll, PymodbusServer } from './pymodbus.js';
import { unit1Expected, unit1Registers, unit1Tables } from './register-layout.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function bus(): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-modbus-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const p = new PtyPair(join(dir, 'usb-rs485-if00-port0'), join(dir, 'bus-slaves'));
  await p.start();
  cleanups.push(() => p.stop());
  return p;
}

async function slaves(p: PtyPair, tables: ConstructorParameters<typeof PymodbusServer>[0]['slaves']): Promise<PymodbusServer> {
  const s = await new PymodbusServer({ mode: 'rtu', port: p.sensor, baud: 9600, slaves: tables }).start();
  cleanups.push(() => s.kill());
  return s;
}

function master(path: string, slaveList: unknown[], line: Record<string, unknown> = {}) {
  const config = parseGatewayConfig({ modbus: { rtu: [{ path, baud: 9600, slaves: slaveList, ...line }] } }).modbus;
  const sink = new RecordingSink();
  const logger = recordingLogger();
  const ingest = new ModbusIngest({ config, sink, logger, backoff: { initialMs: 50, maxMs: 400 } });
  cleanups.push(() => ingest.stop());
  ingest.start();
  return { ingest, sink, logger };
}

function latest(sink: RecordingSink, device: string): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const r of sink.readings()) if (r.series.startsWith(`${device}/`)) m.set(r.series.slice(device.length + 1), r.value);
  return m;
}

describe('Modbus RTU master on a socat pty against pymodbus', () => {
  beforeAll(() => {
    expect(haveSocat(), 'socat is required (.ci/apt-packages)').toBe(true);
    expect(havePymodbus(), 'python3-pymodbus is required (.ci/apt-packages)').toBe(true);
    expect(haveMbpoll(), 'mbpoll is required (.ci/apt-packages)').toBe(true);
  });

  it('reads every type and word order over RTU framing, as mbpoll does', async () => {
    const p = await bus();
    const s = await slaves(p, { 1: unit1Tables() });
    // mbpoll first, alone on the line (two masters on one bus would collide, as on real RS-485).
    const line = [p.device, '-m', 'rtu', '-b', '9600', '-P', 'none', '-a', '1', '-o', '2'];
    expect(Number(mbpoll([...line, '-t', '4:float', '-B', '-r', '0'])[0])).toBeCloseTo(123.456, 3);
    expect(Number(mbpoll([...line, '-t', '4:int', '-r', '10'])[0])).toBe(-123456789);
    const { ingest, sink } = master(p.device, [{ unit: 1, device: 'plc', pollMs: 200, registers: unit1Registers() }]);
    const expected = unit1Expected();
    await waitFor(() => latest(sink, 'plc').size === Object.keys(expected).length, 'a full poll over RTU');
    const got = latest(sink, 'plc');
    for (const [sensor, value] of Object.entries(expected)) expect(got.get(sensor), sensor).toBe(value);
    expect(ingest.stats().slaves[0]!.errors.crc).toBe(0);
    // The server saw the same coalesced requests as over TCP.
    await waitFor(() => ingest.stats().slaves[0]!.pollsOk >= 1, 'one whole poll');
    expect(s.count(1, 3)).toBeGreaterThanOrEqual(1);
  });

  it('a silent unit on the bus delays the live one by at most its own timeout, per poll', async () => {
    const p = await bus();
    await slaves(p, { 1: { hr: { 0: [42] } } });
    const { ingest } = master(p.device, [
      { unit: 1, device: 'live', pollMs: 200, registers: [{ sensor: 'v', function: 'holding', address: 0 }] },
      { unit: 7, device: 'dead', pollMs: 200, timeoutMs: 100, retries: 3, registers: [{ sensor: 'v', function: 'holding', address: 0 }] },
    ]);
    await waitFor(() => ingest.stats().slaves[1]!.state === 'offline', 'the dead unit offline');
    const before = ingest.stats().slaves[0]!;
    await waitFor(() => ingest.stats().slaves[0]!.pollsOk >= before.pollsOk + 10, 'ten more live polls');
    const [live, dead] = ingest.stats().slaves;
    expect(live!.pollsFailed - before.pollsFailed).toBe(0);
    expect(live!.maxLateMs).toBeLessThan(100 * 4 + 150);
    expect(dead!.errors.timeout).toBeGreaterThanOrEqual(4);
    // Offline: one probe per backoff step, no retries (each probe costs one 100 ms timeout).
    const t0 = dead!.errors.timeout;
    const req0 = dead!.requests;
    await waitFor(() => ingest.stats().slaves[1]!.errors.timeout >= t0 + 2, 'two offline probes');
    const d = ingest.stats().slaves[1]!;
    // With retries: 3 each probe would be 4 requests; offline it is 1 (plus at most one in flight).
    expect(d.requests - req0).toBeLessThanOrEqual(d.errors.timeout - t0 + 1);
  });

  it('direction control on a real port: RTS a pty cannot do is a counted, explained fault; a GPIO value file is driven', async () => {
    const p = await bus();
    const s = await slaves(p, { 1: { hr: { 0: [9] } } });
    const one = [{ unit: 1, device: 'm', pollMs: 100, registers: [{ sensor: 'v', function: 'holding', address: 0 }] }];
    const rts = master(p.device, one, { direction: { mode: 'rts' } });
    await waitFor(() => rts.ingest.stats().slaves[0]!.errors.direction_failed >= 2, 'RTS refused by the pty');
    expect(rts.ingest.stats().slaves[0]!.state).not.toBe('offline'); // not the slave's fault
    expect(rts.logger.lines.some((l) => (l.obj as { code?: string }).code === 'FM_ERR_MODBUS_DIRECTION' && /driver enable failed/.test(l.msg ?? ''))).toBe(true);
    expect(s.count(1)).toBe(0); // nothing went on the line without the driver enabled
    await rts.ingest.stop();

    const dir = mkdtempSync(join(tmpdir(), 'fm-gpio-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const value = join(dir, 'value');
    writeFileSync(value, '');
    const gpio = master(p.device, one, { direction: { mode: 'gpio', gpioPath: value } });
    await waitFor(() => latest(gpio.sink, 'm').get('v') === 9, 'readings with GPIO direction');
    await gpio.ingest.stop();
    expect(readFileSync(value, 'utf8')).toBe('0'); // released after the last request
  });

  it('resumes after the port vanishes (adapter pulled) and after the slave process is killed and restarted', async () => {
    const p = await bus();
    let s = await slaves(p, { 1: { hr: { 0: [5] } } });
    const { ingest, sink } = master(p.device, [{ unit: 1, device: 'm', pollMs: 50, timeoutMs: 200, registers: [{ sensor: 'v', function: 'holding', address: 0 }] }]);
    await waitFor(() => sink.readings().length >= 3, 'first readings');
    // The slave dies mid-poll: timeouts, then answers again once it is back.
    await s.kill();
    await waitFor(() => ingest.stats().slaves[0]!.errors.timeout >= 1, 'timeouts while the slave is dead');
    s = await slaves(p, { 1: { hr: { 0: [6] } } });
    await waitFor(() => latest(sink, 'm').get('v') === 6, 'readings from the restarted slave');
    // The port itself vanishes (socat gone = USB adapter pulled) and comes back.
    await s.kill();
    await p.stop();
    await waitFor(() => ingest.stats().buses[0]!.lost >= 1, 'the port lost');
    await p.start();
    await slaves(p, { 1: { hr: { 0: [8] } } });
    await waitFor(() => latest(sink, 'm').get('v') === 8, 'readings after the port came back');
    expect(ingest.stats().buses[0]!.opens).toBeGreaterThanOrEqual(2);
  });
});
