/**
 * `fieldmesh-bridge`: reads fm-frames from a microcontroller's serial port and publishes them to
 * a gateway. Runs until SIGINT/SIGTERM; logs one JSON object per line on stderr.
 */
import { DeviceClient } from '../client/device-client.js';
import type { Logger } from '../logger.js';
import { SerialBridge } from './serial-bridge.js';
import { serialPortSource } from './serial-source.js';

export const USAGE = `usage: fieldmesh-bridge --port PATH --gateway URL|mdns --device ID [options]

Reads fm-frames (device-sdk/FORMAT.md) from a serial port and publishes their readings to a
fieldmesh gateway over MQTT, buffering them while the gateway is unreachable.

  --port PATH        serial port, e.g. /dev/serial/by-id/usb-…  (required)
  --gateway URL      mqtt://host:1883, or "mdns" to find a gateway on the local link (required)
  --device ID        device id: MQTT username and series prefix (required)
  --password PW      device password (or env FIELDMESH_PASSWORD); omit for a gateway with auth: none
  --baud N           line speed (default 115200)
  --buffer FILE      offline buffer file that survives a restart (default: in memory)
  --max-buffer N     messages the offline buffer holds; the oldest are dropped beyond (default 10000)
  --help             this text
`;

type Flags = Record<string, string | true>;

export function parseArgs(argv: readonly string[]): Flags {
  const flags: Flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(a)}`);
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (eq > 0) flags[name] = a.slice(eq + 1);
    else if (name === 'help') flags[name] = true;
    else {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
      flags[name] = v;
    }
  }
  return flags;
}

function stderrLogger(bindings: Record<string, unknown> = {}): Logger {
  const line = (level: string) => (obj: object, msg?: string) => process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), ...bindings, ...obj, msg })}\n`);
  return { debug: () => {}, info: line('info'), warn: line('warn'), error: line('error'), child: (b) => stderrLogger({ ...bindings, ...b }) };
}

export async function main(argv: readonly string[], signal?: AbortSignal): Promise<number> {
  let flags: Flags;
  try {
    flags = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`fieldmesh-bridge: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const known = new Set(['port', 'gateway', 'device', 'password', 'baud', 'buffer', 'max-buffer', 'help']);
  for (const k of Object.keys(flags)) {
    if (!known.has(k)) {
      process.stderr.write(`fieldmesh-bridge: unknown option --${k}\n\n${USAGE}`);
      return 2;
    }
  }
  for (const k of ['port', 'gateway', 'device']) {
    if (typeof flags[k] !== 'string') {
      process.stderr.write(`fieldmesh-bridge: --${k} is required\n\n${USAGE}`);
      return 2;
    }
  }
  const baud = Number(flags.baud ?? 115200);
  const maxBuffer = flags['max-buffer'] === undefined ? undefined : Number(flags['max-buffer']);
  if (!Number.isInteger(baud) || baud < 50) {
    process.stderr.write(`fieldmesh-bridge: --baud ${String(flags.baud)} is not a line speed like 9600 or 115200\n`);
    return 2;
  }
  const logger = stderrLogger();
  const password = typeof flags.password === 'string' ? flags.password : process.env.FIELDMESH_PASSWORD;
  let client: DeviceClient;
  try {
    client = new DeviceClient({
      device: flags.device as string,
      gateway: flags.gateway as string,
      ...(password !== undefined && { password }),
      buffer: { ...(typeof flags.buffer === 'string' && { file: flags.buffer }), ...(maxBuffer !== undefined && { maxMessages: maxBuffer }) },
      logger,
    });
  } catch (err) {
    process.stderr.write(`fieldmesh-bridge: ${(err as Error).message}\n`);
    return 2;
  }
  const bridge = new SerialBridge({ source: serialPortSource(flags.port as string, baud), client, logger });
  client.start();
  bridge.start();
  logger.info({ port: flags.port, gateway: flags.gateway, device: flags.device }, 'bridge running');
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    signal?.addEventListener('abort', done);
  });
  await bridge.stop();
  const st = client.stats();
  await client.close();
  logger.info({ frames: bridge.stats().frames.frames, acked: st.acked, buffered: st.buffered, dropped: st.dropped }, 'bridge stopped');
  return 0;
}
