/**
 * Serial ingest: one SerialPortReader per entry of the gateway config's `serial` section. The
 * composition root builds it from the validated config and a sink:
 *
 *   const serial = new SerialIngest({ ports: config.serial, sink: ingest, logger, clock });
 *   serial.start();           // never throws for port problems: they are logged and retried
 *   metrics.add(() => serial.stats());
 *   await serial.stop();
 */
import { systemClock, silentLogger, type Clock, type Logger } from '@fieldmesh/device-sdk';
import { createSensorParser, SensorProfileError } from '@fieldmesh/hardware/sensors';
import type { IngestSink } from '../sink.js';
import { SerialIngestError } from './errors.js';
import { SerialPortReader, type SerialBackoff, type SerialPortEntry, type SerialPortStats } from './port-reader.js';
import type { SerialLinkOpener } from './serial-link.js';
import { nodeSerialLinks } from './stream-link.js';

export interface SerialIngestOptions {
  /** The `serial` config section: `[{ path, baud, profile, device }]`. Empty: nothing to do. */
  ports: readonly SerialPortEntry[];
  sink: IngestSink;
  /** Default: real ports through node-serialport. */
  opener?: SerialLinkOpener;
  clock?: Clock;
  logger?: Logger;
  backoff?: Partial<SerialBackoff>;
  /** Poll interval override for polled profiles (mhz19), ms. Default: the profile's. */
  pollIntervalMs?: number;
}

export interface SerialIngestStats {
  ports: SerialPortStats[];
  /** Sums over the ports, for the metrics page. */
  totals: { open: number; bytes: number; readingsCommitted: number; rejected: number; submitFailed: number; lost: number; openFailures: number };
}

export class SerialIngest {
  private readonly readers: SerialPortReader[] = [];

  /** Throws SerialIngestError (FM_ERR_SERIAL_CONFIG) naming the entry for a bad profile or device or a duplicate path. */
  constructor(opts: SerialIngestOptions) {
    const seen = new Set<string>();
    const deps = {
      opener: opts.opener ?? nodeSerialLinks(),
      sink: opts.sink,
      clock: opts.clock ?? systemClock,
      logger: opts.logger ?? silentLogger,
      backoff: { initialMs: 500, maxMs: 30_000, ...opts.backoff },
    };
    opts.ports.forEach((entry, i) => {
      if (seen.has(entry.path)) throw new SerialIngestError('FM_ERR_SERIAL_CONFIG', `serial[${i}].path ${entry.path} is listed twice`);
      seen.add(entry.path);
      let parser;
      try {
        parser = createSensorParser(entry.profile, opts.pollIntervalMs === undefined ? { device: entry.device } : ({ device: entry.device, pollIntervalMs: opts.pollIntervalMs } as { device: string }));
      } catch (err) {
        if (err instanceof SensorProfileError) throw new SerialIngestError('FM_ERR_SERIAL_CONFIG', `serial[${i}]: ${err.message}`);
        throw err;
      }
      this.readers.push(new SerialPortReader({ ...entry }, parser, deps));
    });
  }

  start(): void {
    for (const r of this.readers) r.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.stop()));
  }

  /** Resolves when every reading read so far has been committed or refused by the sink. */
  async whenIdle(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.whenIdle()));
  }

  stats(): SerialIngestStats {
    const ports = this.readers.map((r) => r.stats());
    const sum = (f: (p: SerialPortStats) => number) => ports.reduce((a, p) => a + f(p), 0);
    return {
      ports,
      totals: {
        open: ports.filter((p) => p.state === 'open').length,
        bytes: sum((p) => p.bytes),
        readingsCommitted: sum((p) => p.readingsCommitted),
        rejected: sum((p) => p.parser.rejected),
        submitFailed: sum((p) => p.submitFailed),
        lost: sum((p) => p.lost),
        openFailures: sum((p) => p.openFailures),
      },
    };
  }
}
