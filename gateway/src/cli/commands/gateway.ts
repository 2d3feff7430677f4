import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isDeviceId } from '@fieldmesh/device-sdk';
import { gatewayDataDir, parseGatewayConfig, readGatewayConfigSource, type GatewayConfig } from '../../config/gateway-config.js';
import { loadOverlay } from '../../fleet/config-overlay.js';
import { exposedSecrets } from '../../config/secret-permissions.js';
import { FileCredentialStore } from '../../ingest/credentials.js';
import { Gateway } from '../../gateway.js';
import { ServiceNotifier } from '@fieldmesh/hardware/image/watchdog';
import { addApp, addAppHelp } from './add-app.js';
import { parseFlags, UsageError, type Command } from '../command.js';
import { checkLogLevel, logFormat, programLogger } from '../log-output.js';
import { planReload } from '../config-reload.js';
import { untilSignal } from '../signals.js';

const help = `usage: fieldmesh gateway [--config FILE [--config-overlay FILE]] [--log-level LEVEL] [--log-format json|pretty]
       fieldmesh gateway add-device ID (--config FILE | --data-dir DIR) [--rotate]
       fieldmesh gateway add-app ID --read PATTERNS [--write-coils PATTERNS] (--config FILE | --data-dir DIR) [--rotate]

Runs one gateway: the MQTT broker devices publish to, the SQLite reading log, the local HTTP
API and metrics, and the uplink when uplink.url is configured (store and forward until then).
Without --config it runs on embedded defaults: broker 0.0.0.0:1883 (auth: credentials, no
device yet), HTTP 127.0.0.1:8081, data in ./data (the data directory is printed at start).
\`fieldmesh init gateway\` writes a complete, commented config to start from.

On first start, credentials for every id in broker.devices are generated and printed ONCE to
stdout (username = device id). Once listening it prints:
  data: DIR
  broker: mqtt://HOST:PORT
  http: http://HOST:PORT/
Logs go to stderr: JSON lines (pino), or for a person --log-format pretty (or FM_LOG=pretty).
--config-overlay FILE: a signed config revision (fleet, gateway/src/fleet/FLEET-AGENT.md) whose
sections replace those of --config; checked against fleet.releaseKeys of --config at every start.
With \`fleet:\` configured it exits 75 after switching to a new release or revision (its launcher
starts that one on trial).
SIGINT/SIGTERM stop it cleanly. SIGHUP re-reads --config: \`rules:\` and \`logLevel\` apply at
once (alert state of kept rules survives); every other changed key is named in the log as
needing a restart.

add-device ID   creates credentials for device ID in <dataDir>/devices.json and prints its
                password once (only a salted hash is kept); the data directory is the one of
                --config FILE, or --data-dir DIR (one of them is required, so credentials never
                land in a directory the gateway does not read). --rotate replaces an existing
                password. A running gateway picks the change up at the device's next login.
${addAppHelp}

Config (YAML, every key optional, unknown keys refused, values may be \${VAR}): id, dataDir, logLevel,
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
  fleet: { releaseKeys, tags, cloudUrl, releasesDir, confirmDeadlineSec, maxAttempts }
         (signed releases and config revisions: gateway/src/fleet/FLEET-AGENT.md)
See gateway/src/config/*.ts for units and defaults, gateway/src/ingest/INGEST.md for topics.
`;

/** What a SIGHUP applies without a restart. */
const LIVE_KEYS = ['rules', 'logLevel'] as const;

/** The data directory add-device / add-app write to: the config's dataDir, or --data-dir. Never a guess. */
function dataDirOf(flags: Record<string, string | boolean>, what: string): string {
  if (typeof flags['data-dir'] === 'string') {
    if (typeof flags.config === 'string') throw new UsageError('give --config or --data-dir, not both');
    return resolve(flags['data-dir']);
  }
  if (typeof flags.config !== 'string') {
    throw new UsageError(`${what} needs --config FILE (the gateway's config; its dataDir holds the credentials) or --data-dir DIR (the directory a gateway without --config uses is ./data)`);
  }
  return gatewayDataDir(flags.config);
}

const gateway: Command = {
  name: 'gateway',
  summary: 'run a gateway (device broker, reading log, HTTP API, uplink)',
  help,
  async run(argv) {
    const { flags, rest } = parseFlags(argv, { config: 'string', 'config-overlay': 'string', 'data-dir': 'string', 'log-level': 'string', 'log-format': 'string', rotate: 'boolean', read: 'string', 'write-coils': 'string' });
    if (rest[0] === 'add-app') return addApp(dataDirOf(flags, 'add-app'), rest, flags);
    if (flags.read !== undefined || flags['write-coils'] !== undefined) throw new UsageError('--read and --write-coils only go with add-app');
    if (rest[0] === 'add-device') {
      const id = rest[1];
      if (rest.length !== 2 || id === undefined) throw new UsageError('add-device needs exactly one device id');
      if (!isDeviceId(id)) throw new UsageError(`device id ${JSON.stringify(id)} is not valid (letters, digits, _ . -; up to 64)`);
      const file = join(dataDirOf(flags, 'add-device'), 'devices.json');
      const store = new FileCredentialStore(file);
      if (store.has(id) && !flags.rotate) {
        process.stderr.write(`fieldmesh gateway: device ${id} already has credentials in ${file}; pass --rotate to replace them\n`);
        return 1;
      }
      const password = await store.rotate(id);
      process.stdout.write(`device: ${id}\npassword: ${password}\ncredentials: ${file}\n(shown once; the device logs in with client id = username = device id)\n`);
      return 0;
    }
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    if (flags.rotate) throw new UsageError('--rotate only goes with add-device');
    if (flags['data-dir'] !== undefined) throw new UsageError('--data-dir only goes with add-device (set dataDir in the config file)');
    const format = logFormat(flags['log-format']);
    const overlayFile = typeof flags['config-overlay'] === 'string' ? flags['config-overlay'] : null;
    if (overlayFile !== null && typeof flags.config !== 'string') throw new UsageError('--config-overlay goes with --config (the base config it overlays)');
    const source = readGatewayConfigSource(typeof flags.config === 'string' ? flags.config : undefined);
    const base = parseGatewayConfig(source.data, source.baseDir);
    const fixedLevel = typeof flags['log-level'] === 'string' ? checkLogLevel(flags['log-level']) : null;
    const logger = programLogger({ level: fixedLevel ?? base.logLevel, format });
    let config = base;
    let configRevision: number | null = null;
    if (overlayFile !== null) {
      try {
        ({ config, revision: configRevision } = loadOverlay(overlayFile, source, base));
      } catch (err) {
        // On trial the new revision must work or be rolled back; in steady state the gateway
        // runs on its base config rather than not at all (its fleet agent can then be reached).
        if (process.env.FM_FLEET_TRIAL === '1') throw err;
        logger.error({ code: (err as { code?: string }).code, err: (err as Error).message }, 'config overlay refused; running on the base config');
      }
      if (fixedLevel === null) logger.setLevel(config.logLevel);
    }
    if (typeof flags.config === 'string') {
      const exposed = exposedSecrets(flags.config, config, readFileSync(flags.config, 'utf8'));
      if (exposed.length > 0) {
        logger.warn({ file: flags.config, keys: exposed, fix: `chmod 600 ${flags.config}, or move them into \${VAR}s` }, 'config file holding secrets is readable by other users');
      }
    }
    const gw = new Gateway(config, { logger, fleet: { source, configRevision } });
    const started = await gw.start();
    // Stop handlers are in place before the ready lines: a supervisor may send SIGTERM as soon as
    // it reads them, and that must stop the gateway cleanly, not kill it mid-commit.
    let reload = () => {};
    const stopped = untilSignal(() => reload());
    // One write, so a reader that waits for the http line has every line before it.
    const noDevices =
      config.broker.auth === 'credentials' && new FileCredentialStore(join(config.dataDir, 'devices.json')).size() === 0
        ? `no device credentials yet: run \`fieldmesh gateway add-device DEVICE_ID ${typeof flags.config === 'string' ? `--config ${flags.config}` : `--data-dir ${config.dataDir}`}\`\n`
        : '';
    process.stdout.write(`gateway: ${config.id}\ndata: ${config.dataDir}\n${noDevices}broker: mqtt://${config.broker.host}:${started.brokerPort}\nhttp: http://${config.http.host}:${started.httpPort}/\n${gw.originKey ? `origin key: ${gw.originKey.publicKey}\n` : ''}`);
    // SIGHUP (systemd ExecReload): re-read --config; apply what can change live, name the rest.
    let inForce: Readonly<GatewayConfig> = config;
    reload = () => {
      if (typeof flags.config !== 'string') return logger.warn({}, 'SIGHUP: no --config file to reload');
      let next: Readonly<GatewayConfig>;
      try {
        const src = readGatewayConfigSource(flags.config);
        const b = parseGatewayConfig(src.data, src.baseDir);
        next = overlayFile !== null && configRevision !== null ? loadOverlay(overlayFile, src, b).config : b;
      } catch (err) {
        const e = err as { code?: string; message?: string };
        return logger.error({ code: e.code, err: e.message }, 'config reload refused; the config in force stays');
      }
      const plan = planReload(inForce, next, LIVE_KEYS);
      try {
        if (plan.apply.includes('rules')) gw.reloadRules(next.rules);
      } catch (err) {
        return logger.error({ err: (err as Error).message }, 'rules reload refused; the rules in force stay');
      }
      if (plan.apply.includes('logLevel') && fixedLevel === null) logger.setLevel(next.logLevel);
      inForce = { ...inForce, rules: next.rules, logLevel: next.logLevel };
      if (plan.apply.length > 0) logger.info({ applied: plan.apply, rules: next.rules.length, logLevel: fixedLevel ?? next.logLevel }, `config reloaded: ${plan.apply.join(', ')} applied`);
      else if (plan.restart.length === 0) logger.info({}, 'config reloaded: nothing changed');
      if (plan.restart.length > 0) logger.warn({ restart: plan.restart }, `config keys changed that need a restart to take effect: ${plan.restart.join(', ')}`);
    };
    // Under systemd (Type=notify, hardware/systemd/fieldmesh.service): READY now, then watchdog
    // pings from this event loop, so a hung loop gets the gateway restarted.
    const notifier = ServiceNotifier.fromEnv(process.env, { logger });
    await notifier?.ready(`gateway ${config.id} running`).catch((err: Error) => logger.warn({ err: err.message }, 'sd_notify READY failed'));
    // A fleet switch asks for exit 75 (the launcher then starts the new release or revision).
    const code = await Promise.race([stopped.then(() => 0), gw.exitRequest]);
    await notifier?.stopping().catch(() => {});
    await gw.stop();
    logger.info({ exitCode: code }, 'gateway stopped');
    return code;
  },
};

export default gateway;
