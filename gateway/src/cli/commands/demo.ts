import { resolve } from 'node:path';
import { systemClock } from '@fieldmesh/device-sdk';
import { startDemo, type RunningDemo } from '../demo/demo.js';
import { checkLogLevel, logFormat, programLogger } from '../log-output.js';
import { parseFlags, UsageError, type Command } from '../command.js';

const help = `usage: fieldmesh demo [--data DIR] [--gateways N] [--devices N] [--interval-ms MS]
                      [--http-port PORT] [--log-level LEVEL]

Runs the whole system on this machine: the cloud bridge (embedded broker, SQLite, dashboard),
N gateways (default 3), each with its own broker, reading log, HTTP API and data directory, and
simulated devices (default 2 per gateway) publishing SenML over MQTT through DeviceClient, and
one serial sensor per gateway (NMEA GPS, MH-Z19 CO2, PMS5003 dust) on a pseudo-terminal made by
socat, read by the gateway's serial ingest. Each gateway runs two demo rules (CO2 above 800 ppm,
a device silent for 30 s), so alerts show on the dashboard.
Identities (gateway uplink passwords, device passwords) are created on the first run and reused
on the next; data stays in --data (default ./data/demo).

Prints one line per part, then:
  dashboard: http://HOST:PORT/
Ctrl-C stops everything cleanly. Logs (JSON) go to stderr at --log-level (default warn).

  --http-port PORT   dashboard port (default 8080; if taken, a free one is picked)
`;

function int(flags: Record<string, string | boolean>, key: string, dflt: number, min: number, max: number): number {
  const v = flags[key];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${key} must be an integer ${min}..${max}, got ${String(v)}`);
  return n;
}

const demo: Command = {
  name: 'demo',
  summary: 'run a complete local demo: cloud bridge, gateways, simulated devices (npm start)',
  help,
  async run(argv) {
    const { flags, rest } = parseFlags(argv, {
      data: 'string',
      gateways: 'string',
      devices: 'string',
      'interval-ms': 'string',
      'http-port': 'string',
      'log-level': 'string',
    });
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    const level = typeof flags['log-level'] === 'string' ? flags['log-level'] : 'warn';
    const logger = programLogger({ level: checkLogLevel(level), format: logFormat(undefined) });
    const base = {
      dataDir: resolve(typeof flags.data === 'string' ? flags.data : 'data/demo'),
      gateways: int(flags, 'gateways', 3, 1, 26),
      devicesPerGateway: int(flags, 'devices', 2, 1, 50),
      intervalMs: int(flags, 'interval-ms', 1000, 10, 3_600_000),
      host: '127.0.0.1',
      clock: systemClock,
      logger,
    };
    const wantedPort = int(flags, 'http-port', 8080, 0, 65535);
    let running: RunningDemo;
    try {
      running = await startDemo({ ...base, httpPort: wantedPort });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || wantedPort === 0) throw err;
      process.stdout.write(`port ${wantedPort} is taken; picking a free port for the dashboard\n`);
      running = await startDemo({ ...base, httpPort: 0 });
    }
    process.stdout.write(`cloud bridge: mqtt://127.0.0.1:${running.cloud.brokerPort}, data in ${base.dataDir}\n`);
    for (const g of running.gateways) {
      process.stdout.write(`gateway ${g.id}: mqtt://127.0.0.1:${g.brokerPort}  http://127.0.0.1:${g.httpPort}/api/status\n`);
    }
    process.stdout.write(`devices: ${running.devices.length} publishing every ${base.intervalMs} ms\n`);
    for (const p of running.serialSensors) process.stdout.write(`serial sensor ${p.device} (${p.profile}) on ${p.path} -> gateway ${p.gateway}\n`);
    if (running.serialNote) process.stdout.write(`${running.serialNote}\n`);
    process.stdout.write(`dashboard: ${running.dashboardUrl}\n`);
    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        done();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    process.stdout.write('stopping…\n');
    await running.stop();
    process.stdout.write('stopped\n');
    return 0;
  },
};

export default demo;
