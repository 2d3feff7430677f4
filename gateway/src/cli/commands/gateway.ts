import { pino } from 'pino';
import { join } from 'node:path';
import { isDeviceId } from '@fieldmesh/device-sdk';
import { loadGatewayConfig } from '../../config/gateway-config.js';
import { FileCredentialStore } from '../../ingest/credentials.js';
import { Gateway } from '../../gateway.js';
import { ServiceNotifier } from '@fieldmesh/hardware/image/watchdog';
import { addApp, addAppHelp } from './add-app.js';
import { parseFlags, UsageError, type Command } from '../command.js';

const help = `usage: fieldmesh gateway [--config FILE] [--log-level LEVEL]
       fieldmesh gateway add-device ID [--config FILE] [--rotate]
       fieldmesh gateway add-app ID --read PATTERNS [--config FILE] [--rotate]

Runs one gateway: the MQTT broker devices publish to, the SQLite reading log, the local HTTP
API and metrics, and the uplink when uplink.url is configured (store and forward until then).
Without --config it runs on embedded defaults: broker 0.0.0.0:1883 (auth: credentials, one
device "device-1"), HTTP 127.0.0.1:8081, data in ./data.

On first start, credentials for every id in broker.devices are generated and printed ONCE to
stdout (username = device id). Once listening it prints:
  broker: mqtt://HOST:PORT
  http: http://HOST:PORT/
Logs (JSON, pino) go to stderr. SIGINT/SIGTERM stop it cleanly; SIGHUP re-reads --config and
applies its \`rules:\` section without a restart (alert state of kept rules survives).

add-device ID   creates credentials for device ID in <dataDir>/devices.json and prints its
                password once (only a salted hash is kept). --rotate replaces an existing
                password. A running gateway picks the change up at the device's next login.
${addAppHelp}

Config (YAML, every key optional, unknown keys refused): id, dataDir, logLevel,
  broker: { port, host, auth: credentials | none, devices: [ids], maxPacketBytes,
            connectTimeoutMs, packetTimeoutMs, maxConnections }
  http: { port, host }    ingest: { commitIntervalMs, maxBatchReadings, rejectLogIntervalMs,
                                    commitThread }
  mesh: { port, mdns, seeds, key }   serial: [{ path, baud, profile, device }]
  uplink: { url (mqtt:// or mqtts://), username, password, ca, cert, key, maxBytesPerSecond,
            maxInFlight, stateSeries } (gateway/src/uplink/UPLINK.md)
  rules: [...] (gateway/src/rules/LOCAL.md)
  rollups: { minute: { retention }, hour: { retention }, flushInterval }
  storage: { budgetBytes (0: from free disk), policy: downsample | drop-oldest | reject-new,
             checkIntervalMs, lowWaterPercent } (gateway/src/store/STORAGE.md)
See gateway/src/config/*.ts for units and defaults, gateway/src/ingest/INGEST.md for topics.
`;

const gateway: Command = {
  name: 'gateway',
  summary: 'run a gateway (device broker, reading log, HTTP API, uplink)',
  help,
  async run(argv) {
    const { flags, rest } = parseFlags(argv, { config: 'string', 'log-level': 'string', rotate: 'boolean', read: 'string' });
    const config = loadGatewayConfig(typeof flags.config === 'string' ? flags.config : undefined);
    if (rest[0] === 'add-app') return addApp(config.dataDir, rest, flags);
    if (flags.read !== undefined) throw new UsageError('--read only goes with add-app');
    if (rest[0] === 'add-device') {
      const id = rest[1];
      if (rest.length !== 2 || id === undefined) throw new UsageError('add-device needs exactly one device id');
      if (!isDeviceId(id)) throw new UsageError(`device id ${JSON.stringify(id)} is not valid (letters, digits, _ . -; up to 64)`);
      const store = new FileCredentialStore(join(config.dataDir, 'devices.json'));
      if (store.has(id) && !flags.rotate) {
        process.stderr.write(`fieldmesh gateway: device ${id} already has credentials; pass --rotate to replace them\n`);
        return 1;
      }
      const password = await store.rotate(id);
      process.stdout.write(`device: ${id}\npassword: ${password}\n(shown once; the device logs in with username = device id)\n`);
      return 0;
    }
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    if (flags.rotate) throw new UsageError('--rotate only goes with add-device');
    const level = typeof flags['log-level'] === 'string' ? flags['log-level'] : config.logLevel;
    const logger = pino({ level }, pino.destination(2));
    const gw = new Gateway(config, { logger });
    const started = await gw.start();
    process.stdout.write(`gateway: ${config.id}\nbroker: mqtt://${config.broker.host}:${started.brokerPort}\nhttp: http://${config.http.host}:${started.httpPort}/\n`);
    // SIGHUP (systemd ExecReload): re-read --config and apply its `rules:` without a restart;
    // alert state of rules that still exist is kept. Other sections need a restart.
    const reload = () => {
      if (typeof flags.config !== 'string') return logger.warn({}, 'SIGHUP: no --config file to reload rules from');
      try {
        const next = loadGatewayConfig(flags.config);
        gw.reloadRules(next.rules);
        logger.info({ rules: next.rules.length }, 'rules reloaded from the config file');
      } catch (err) {
        logger.error({ err }, 'config reload refused; the previous rules stay in force');
      }
    };
    process.on('SIGHUP', reload);
    // Under systemd (Type=notify, hardware/systemd/fieldmesh.service): READY now, then watchdog
    // pings from this event loop, so a hung loop gets the gateway restarted.
    const notifier = ServiceNotifier.fromEnv(process.env, { logger });
    await notifier?.ready(`gateway ${config.id} running`).catch((err: Error) => logger.warn({ err: err.message }, 'sd_notify READY failed'));
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        process.off('SIGHUP', reload);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await notifier?.stopping().catch(() => {});
    await gw.stop();
    logger.info({}, 'gateway stopped');
    return 0;
  },
};

export default gateway;
