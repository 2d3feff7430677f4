/** Fast, deterministic logic tests of SerialIngest on in-memory ports and a ManualClock. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@fieldmesh/device-sdk';
import { encodeFrame } from '#device-sdk/frame/index';
import { MemorySerialLinks, SerialIngest, SerialIngestError } from '#gateway/ingest/serial/index';
import { mhz19Reply } from '#hardware/sensors/index';
import { flush, RecordingSink, recordingLogger } from './fakes.js';

const text = (s: string) => new TextEncoder().encode(s);

function setup(ports = [{ path: '/dev/serial/by-id/usb-FTDI_A1-if00-port0', baud: 115200, profile: 'line', device: 'room' }]) {
  const links = new MemorySerialLinks();
  const sink = new RecordingSink();
  const clock = new ManualClock();
  const logger = recordingLogger();
  const ingest = new SerialIngest({ ports, sink, opener: links, clock, logger });
  return { links, sink, clock, logger, ingest, path: ports[0]!.path };
}

describe('SerialIngest on in-memory ports', () => {
  it('reads lines from a port into the sink as device/sensor readings', async () => {
    const { links, sink, ingest, path, clock } = setup();
    links.plug(path);
    ingest.start();
    await flush();
    links.emit(path, text('t=21.5 h=4'));
    links.emit(path, text('0\n'));
    await ingest.whenIdle();
    expect(sink.batches).toEqual([
      { device: 'room', readings: [{ series: 'room/t', ts: clock.now(), value: 21.5 }, { series: 'room/h', ts: clock.now(), value: 40 }] },
    ]);
    expect(ingest.stats().ports[0]).toMatchObject({ state: 'open', opens: 1, bytes: 12, readingsCommitted: 2 });
  });

  it('a missing port at start is an error naming the port, retried with backoff, never a throw', async () => {
    const { links, sink, ingest, path, clock, logger } = setup();
    ingest.start();
    await flush();
    const err = logger.lines.find((l) => l.level === 'error')!;
    expect(err.msg).toContain(path);
    expect(err.obj).toMatchObject({ code: 'FM_ERR_SERIAL_MISSING', port: path, component: 'serial' });
    expect(ingest.stats().ports[0]).toMatchObject({ state: 'waiting', openFailures: 1, retryInMs: 500, lastError: { code: 'FM_ERR_SERIAL_MISSING' } });
    // 500, 1000, 2000, 4000 ms: four more failures, then the port appears.
    for (const ms of [500, 1000, 2000, 4000]) {
      clock.advance(ms);
      await flush();
    }
    expect(ingest.stats().ports[0]!.openFailures).toBe(5);
    expect(ingest.stats().ports[0]!.retryInMs).toBe(8000);
    // Logging is rate-limited: one line per 10 s (these five attempts span 7.5 s), not one per attempt.
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(1);
    links.plug(path);
    clock.advance(8000);
    await flush();
    expect(ingest.stats().ports[0]!.state).toBe('open');
    links.emit(path, text('t=1\n'));
    await ingest.whenIdle();
    expect(sink.readings()).toHaveLength(1);
  });

  it('re-opens a port that disappears and comes back, resetting the backoff', async () => {
    const { links, sink, ingest, path, clock } = setup();
    links.plug(path);
    ingest.start();
    await flush();
    links.emit(path, text('t=1\nt=2')); // the second line is cut by the unplug
    links.unplug(path);
    expect(ingest.stats().ports[0]).toMatchObject({ state: 'waiting', lost: 1, lastError: { code: 'FM_ERR_SERIAL_LOST' } });
    clock.advance(500);
    await flush();
    clock.advance(1000);
    await flush();
    expect(ingest.stats().ports[0]).toMatchObject({ state: 'waiting', openFailures: 2 });
    links.plug(path);
    clock.advance(2000);
    await flush();
    links.emit(path, text('\nt=3\n'));
    await ingest.whenIdle();
    expect(sink.readings().map((r) => r.value)).toEqual([1, 3]);
    const st = ingest.stats().ports[0]!;
    expect(st).toMatchObject({ state: 'open', opens: 2, lost: 1 });
    expect(st.parser.rejects.noise).toBe(1); // the half line "t=2" dropped at re-open
    // Backoff starts over after a successful open.
    links.unplug(path);
    expect(ingest.stats().ports[0]!.retryInMs).toBe(500);
  });

  it('a busy port is reported as busy and retried', async () => {
    const { links, ingest, path, clock, logger } = setup();
    links.plug(path);
    links.setBusy(path, true);
    ingest.start();
    await flush();
    expect(logger.lines.find((l) => l.level === 'error')!.obj).toMatchObject({ code: 'FM_ERR_SERIAL_BUSY' });
    links.setBusy(path, false);
    clock.advance(500);
    await flush();
    expect(ingest.stats().ports[0]!.state).toBe('open');
  });

  it('counts noise from a baud-rate mismatch, stores none of it', async () => {
    const { links, sink, ingest, path, logger } = setup([{ path: '/dev/ttyUSB0', baud: 9600, profile: 'nmea0183', device: 'gps' }]);
    links.plug(path);
    ingest.start();
    await flush();
    // What 9600-baud NMEA looks like read at 115200: high bytes, few line ends.
    const junk = Uint8Array.from({ length: 4000 }, (_, i) => (i % 97 === 96 ? 0x0a : 0x80 | ((i * 37) & 0x7f)));
    links.emit(path, junk);
    await ingest.whenIdle();
    expect(sink.batches).toHaveLength(0);
    const p = ingest.stats().ports[0]!.parser;
    expect(p.rejects.noise).toBe(41);
    expect(p.rejected).toBe(41);
    expect(logger.lines.filter((l) => l.level === 'warn' && /baud/.test(l.msg ?? ''))).toHaveLength(1);
  });

  it('polls an MH-Z19 with the read command at its interval and reads the replies', async () => {
    const { links, sink, ingest, path, clock } = setup([{ path: '/dev/ttyAMA0', baud: 9600, profile: 'mhz19', device: 'co2' }]);
    links.plug(path);
    ingest.start();
    await flush();
    expect(links.written(path).map((b) => Buffer.from(b).toString('hex'))).toEqual(['ff0186000000000079']);
    links.emit(path, mhz19Reply(800, 24));
    clock.advance(5000);
    clock.advance(5000);
    expect(links.written(path)).toHaveLength(3);
    await ingest.whenIdle();
    expect(sink.readings().map((r) => [r.series, r.value])).toEqual([
      ['co2/co2', 800],
      ['co2/temp', 24],
    ]);
    expect(ingest.stats().ports[0]!.pollsSent).toBe(3);
  });

  it('stores fm-frame readings under the device the frame names, grouped per device', async () => {
    const { links, sink, ingest, path } = setup([{ path: '/dev/ttyUSB1', baud: 115200, profile: 'fm-frame', device: 'bus' }]);
    links.plug(path);
    ingest.start();
    await flush();
    links.emit(path, Buffer.concat([encodeFrame({ device: 'mcu1', seq: 1, readings: [{ sensor: 't', value: 20 }] }), encodeFrame({ seq: 2, readings: [{ sensor: 't', value: 21 }] })]));
    await ingest.whenIdle();
    expect(sink.batches.map((b) => [b.device, b.readings.map((r) => r.series)])).toEqual([
      ['mcu1', ['mcu1/t']],
      ['bus', ['bus/t']],
    ]);
  });

  it('counts and logs readings the sink refuses, and pauses reading while the sink is behind', async () => {
    const { links, sink, ingest, path, logger } = setup();
    links.plug(path);
    ingest.start();
    await flush();
    sink.refuse = true;
    links.emit(path, text('t=1\n'));
    await ingest.whenIdle();
    expect(ingest.stats().ports[0]).toMatchObject({ submitFailed: 1, readingsCommitted: 0 });
    expect(logger.lines.find((l) => l.obj && (l.obj as { code?: string }).code === 'FM_ERR_SERIAL_SUBMIT')!.obj).toMatchObject({ cause: 'FM_ERR_INGEST_TEST' });
    sink.refuse = false;
    sink.hold = true;
    for (let i = 0; i < 64; i++) links.emit(path, text(`t=${i}\n`));
    expect(links.isPaused(path)).toBe(true);
    sink.release();
    await ingest.whenIdle();
    expect(links.isPaused(path)).toBe(false);
    expect(ingest.stats().ports[0]!.readingsCommitted).toBe(64);
  });

  it('construction throws a coded error naming the bad entry', () => {
    const sink = new RecordingSink();
    const mk = (ports: { path: string; baud: number; profile: string; device: string }[]) => () => new SerialIngest({ ports, sink, opener: new MemorySerialLinks() });
    expect(mk([{ path: '/dev/a', baud: 9600, profile: 'gps', device: 'x' }])).toThrow(SerialIngestError);
    expect(mk([{ path: '/dev/a', baud: 9600, profile: 'gps', device: 'x' }])).toThrow(/serial\[0\].*unknown sensor profile "gps"/);
    expect(mk([{ path: '/dev/a', baud: 9600, profile: 'line', device: 'x' }, { path: '/dev/a', baud: 9600, profile: 'line', device: 'y' }])).toThrow(/serial\[1\]\.path \/dev\/a is listed twice/);
  });

  it('stop() closes ports and cancels retries', async () => {
    const { links, ingest, path, clock } = setup();
    ingest.start();
    await flush();
    await ingest.stop();
    links.plug(path);
    clock.advance(60_000);
    await flush();
    expect(links.isOpen(path)).toBe(false);
    expect(clock.pendingTimers()).toBe(0);
    expect(ingest.stats().ports[0]!.state).toBe('stopped');
  });
});

describe('serial metrics', () => {
  it('renders per-port Prometheus families', async () => {
    const { renderPrometheus } = await import('#gateway/metrics/prometheus');
    const { serialMetrics } = await import('#gateway/ingest/serial/index');
    const { links, ingest, path } = setup();
    links.plug(path);
    ingest.start();
    await flush();
    links.emit(path, text('t=1\n\x01\x02\n'));
    await ingest.whenIdle();
    const text2 = renderPrometheus(serialMetrics(ingest)());
    expect(text2).toContain(`fieldmesh_serial_port_open{port="${path}",device="room",profile="line"} 1`);
    expect(text2).toContain(`fieldmesh_serial_readings_total{port="${path}",device="room"} 1`);
    expect(text2).toContain(`fieldmesh_serial_rejected_total{port="${path}",device="room",reason="noise"} 1`);
  });
});
