/** SerialIngest on REAL pseudo-terminals opened by the real serialport package. */
import { openSync, closeSync, mkdtempSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '#device-sdk/frame/index';
import { SerialIngest } from '#gateway/ingest/serial/index';
import { nmeaSentence, pms5003Frame } from '#hardware/sensors/index';
import { RecordingSink, recordingLogger, waitFor } from './fakes.js';
import { haveSocat, PtyPair } from './pty.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fm-serial-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function pair(dir: string, name: string): Promise<PtyPair> {
  const p = new PtyPair(join(dir, `usb-${name}-if00-port0`), join(dir, `${name}-sensor`));
  await p.start();
  cleanups.push(() => p.stop());
  return p;
}

/** Writes as the sensor does, through the other end of the pty. */
function send(p: PtyPair, bytes: Uint8Array | string): void {
  const fd = openSync(p.sensor, 'w');
  try {
    writeSync(fd, typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  } finally {
    closeSync(fd);
  }
}

function ingestFor(ports: ConstructorParameters<typeof SerialIngest>[0]['ports']) {
  const sink = new RecordingSink();
  const logger = recordingLogger();
  const ingest = new SerialIngest({ ports, sink, logger, backoff: { initialMs: 50, maxMs: 400 } });
  cleanups.push(() => ingest.stop());
  return { sink, logger, ingest };
}

describe('SerialIngest on real pseudo-terminals (socat + serialport)', () => {
  beforeAll(() => {
    expect(haveSocat(), 'socat must be installed (.ci/apt-packages)').toBe(true);
  });

  it('reads NMEA, PMS5003 and fm-frame from three ports at once', async () => {
    const dir = tmp();
    const [gps, air, mcu] = await Promise.all([pair(dir, 'gps'), pair(dir, 'air'), pair(dir, 'mcu')]);
    const { sink, ingest } = ingestFor([
      { path: gps.device, baud: 9600, profile: 'nmea0183', device: 'gps1' },
      { path: air.device, baud: 9600, profile: 'pms5003', device: 'air1' },
      { path: mcu.device, baud: 115200, profile: 'fm-frame', device: 'mcu1' },
    ]);
    ingest.start();
    await waitFor(() => ingest.stats().totals.open === 3, 'three open ports');
    send(gps, nmeaSentence('GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,'));
    send(air, pms5003Frame([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0]));
    send(mcu, encodeFrame({ seq: 1, readings: [{ sensor: 't', value: 21.5, type: 'i16', exp: -1 }] }));
    await waitFor(() => sink.readings().length === 6 + 9 + 1, 'all readings');
    await ingest.whenIdle();
    const series = new Set(sink.readings().map((r) => r.series));
    expect(series).toContain('gps1/lat');
    expect(series).toContain('air1/pm2.5');
    expect(sink.readings().find((r) => r.series === 'mcu1/t')!.value).toBe(21.5);
    expect(ingest.stats().totals).toMatchObject({ rejected: 0, readingsCommitted: 16 });
  });

  it('re-opens a by-id path whose port disappears and comes back (a new /dev/pts behind the link)', async () => {
    const dir = tmp();
    const p = await pair(dir, 'FTDI_A1');
    const { sink, ingest, logger } = ingestFor([{ path: p.device, baud: 115200, profile: 'line', device: 'room' }]);
    ingest.start();
    await waitFor(() => ingest.stats().ports[0]!.state === 'open', 'open');
    send(p, 't=1\n');
    await waitFor(() => sink.readings().length === 1, 'first reading');
    await p.stop();
    await waitFor(() => ingest.stats().ports[0]!.lost === 1, 'port lost');
    await waitFor(() => ingest.stats().ports[0]!.openFailures >= 1, 'a failed re-open while the port is gone');
    expect(ingest.stats().ports[0]!.lastError!.code).toBe('FM_ERR_SERIAL_MISSING');
    await p.start();
    await waitFor(() => ingest.stats().ports[0]!.opens === 2, 're-open');
    send(p, 't=2\n');
    await waitFor(() => sink.readings().length === 2, 'reading after re-open');
    expect(sink.readings().map((r) => r.value)).toEqual([1, 2]);
    expect(logger.lines.some((l) => l.level === 'warn' && l.msg?.includes(p.device) && /went away/.test(l.msg))).toBe(true);
  });

  it('a missing port at start and a busy port are errors naming the port; the gateway keeps running and retrying', async () => {
    const dir = tmp();
    const busy = await pair(dir, 'busy');
    const holder = new SerialPort({ path: busy.device, baudRate: 9600, autoOpen: false, lock: true });
    await new Promise<void>((res, rej) => holder.open((e) => (e ? rej(e) : res())));
    cleanups.push(() => new Promise<void>((r) => (holder.isOpen ? holder.close(() => r()) : r())));
    const missing = join(dir, 'usb-not-plugged-if00-port0');
    const { ingest, logger } = ingestFor([
      { path: missing, baud: 9600, profile: 'nmea0183', device: 'gps' },
      { path: busy.device, baud: 9600, profile: 'line', device: 'b' },
    ]);
    ingest.start();
    await waitFor(() => ingest.stats().ports.every((p) => p.openFailures >= 2), 'retries on both ports');
    const [m, b] = ingest.stats().ports;
    expect(m!.lastError!.code).toBe('FM_ERR_SERIAL_MISSING');
    expect(b!.lastError!.code).toBe('FM_ERR_SERIAL_BUSY');
    const errors = logger.lines.filter((l) => l.level === 'error');
    expect(errors.some((l) => l.msg?.includes(missing))).toBe(true);
    expect(errors.some((l) => l.msg?.includes(busy.device) && /another process/.test(l.msg))).toBe(true);
    // Once the other process lets go, the port opens.
    await new Promise<void>((r) => holder.close(() => r()));
    await waitFor(() => ingest.stats().ports[1]!.state === 'open', 'busy port opens once released');
  });

  it('counts noise from a baud-rate mismatch and still reads the sentences after it', async () => {
    const dir = tmp();
    const p = await pair(dir, 'gps');
    const { sink, ingest } = ingestFor([{ path: p.device, baud: 9600, profile: 'nmea0183', device: 'gps1' }]);
    ingest.start();
    await waitFor(() => ingest.stats().ports[0]!.state === 'open', 'open');
    const junk = Buffer.from(Array.from({ length: 2000 }, (_, i) => (i % 101 === 100 ? 0x0a : 0x80 | ((i * 53) & 0x7f))));
    send(p, junk);
    send(p, '\n' + nmeaSentence('GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,'));
    await waitFor(() => sink.readings().length === 6, 'GGA readings');
    const st = ingest.stats().ports[0]!.parser;
    expect(st.rejects.noise).toBe(20);
    expect(st.frames).toBe(1);
  });
});
