import { resolve } from 'node:path';
import type { CloudConfig } from '@fieldmesh/cloud-bridge';
import { loadCloudBridge, type CloudBridgeModule } from '../cloud-bridge-package.js';
import { parseFlags, UsageError, type Command } from '../command.js';
import { checkLogLevel, logFormat, programLogger } from '../log-output.js';
import { planReload } from '../config-reload.js';
import { untilSignal } from '../signals.js';
import { systemClock, type Logger } from '@fieldmesh/device-sdk';

const help = `usage: fieldmesh cloud [--config FILE] [--log-level LEVEL] [--log-format json|pretty]
       fieldmesh cloud add-gateway ID (--config FILE | --data-dir DIR) [--rotate] [--public-key KEY]
       fieldmesh cloud add-admin-token NAME (--config FILE | --data-dir DIR)

Runs the cloud bridge: an MQTT broker for gateways' uplinks, batch decoding, durable idempotent
storage in SQLite, acks, and HTTP (GET /api/gateways, /api/series, /api/readings, and / ).
Without --config it runs on defaults: broker 127.0.0.1:1884 (auth: credentials), HTTP
127.0.0.1:8080, data in ./cloud-data. \`fieldmesh init cloud\` writes a complete, commented
config to start from. Prints "cloud data: DIR", "cloud broker: mqtt://HOST:PORT" and
"cloud http: http://HOST:PORT/" once listening. Logs go to stderr: JSON lines, or for a person
--log-format pretty (or FM_LOG=pretty). SIGINT/SIGTERM stop it; SIGHUP re-reads --config and names
each changed key (all of them need a restart: listeners and store are bound at start).

add-gateway ID   issues credentials for gateway ID and prints its password once (only a hash is
                 kept, in <dataDir>/gateways.json, dataDir from --config FILE or --data-dir DIR:
                 one is required, so the file lands where the bridge reads it), and registers
                 its origin key, which every batch of that gateway must be signed with:
                 --public-key KEY registers the key the gateway printed at start ("origin
                 key: …"); without it a key pair is made and its signing key printed once, for
                 the gateway's uplink.signingKey. --rotate replaces an existing password and
                 key. A running bridge picks the change up at the gateway's next login (password)
                 and next batch (key).

add-admin-token NAME   issues a fleet admin token and prints it once (only its hash is kept, in
                 <dataDir>/fleet-admin-tokens.json; NAME again replaces that token). Fleet writes
                 (uploads, desired state, rollouts: \`fieldmesh fleet\`) need one as Authorization:
                 Bearer; live tokens only read. A running bridge takes it at once.

Config (YAML, every key optional, unknown keys refused, values may be \${VAR}):
  broker: { port: 1884, host: 127.0.0.1, auth: credentials | none, maxPacketBytes: 8388608,
            maxConnections: 1000, connectTimeoutMs: 10000, preAuthMaxBytes: 4096,
            packetTimeoutMs: 120000 }
          or, to scale out behind an external MQTT 5 broker (several bridges, one share group):
          { url: mqtt://HOST:1883, username: …, password: …, shareGroup: fieldmesh }
  http:   { port: 8080, host: 127.0.0.1 }
  dataDir: ./cloud-data
  store: <dataDir>/cloud.sqlite      (or postgres://user:pass@host:5432/db, shared by bridges)

The live API (/live WebSocket, /mqtt MQTT over WebSocket) and the dashboard at / need the live
token printed (logged) once at the first start; see cloud-bridge/src/live/LIVE.md.
`;

function config(cb: CloudBridgeModule, flags: Record<string, string | boolean>): CloudConfig {
  return typeof flags.config === 'string' ? cb.loadCloudConfig(flags.config) : cb.resolveCloudConfig({});
}

/** The live token exists in clear only at the first start (only its hash is kept): print it then. */
function liveTokenLines(token: string | null, host: string, port: number): string {
  return token === null ? '' : `live token: ${token}\n(shown once; the dashboard: http://${host}:${port}/?token=${token})\n`;
}

/**
 * SIGHUP on the cloud: nothing of its config applies without a restart (listeners, store and
 * credentials file are bound at start), so the file is read again and each changed key is named.
 */
function cloudReload(cb: CloudBridgeModule, flags: Record<string, string | boolean>, inForce: CloudConfig, logger: Logger): () => void {
  return () => {
    if (typeof flags.config !== 'string') return logger.warn({}, 'SIGHUP: no --config file to reload');
    let next: CloudConfig;
    try {
      next = cb.loadCloudConfig(flags.config);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      return logger.error({ code: e.code, err: e.message }, 'config reload refused; the config in force stays');
    }
    const { restart } = planReload(inForce, next, []);
    if (restart.length === 0) logger.info({}, 'config reloaded: nothing changed');
    else logger.warn({ restart }, `config keys changed that need a restart to take effect: ${restart.join(', ')}`);
  };
}

const cloud: Command = {
  name: 'cloud',
  summary: 'run the cloud bridge (uplink receiver, storage, HTTP API); add-gateway issues credentials',
  help,
  async run(argv) {
    const { flags, rest } = parseFlags(argv, { config: 'string', 'data-dir': 'string', rotate: 'boolean', 'public-key': 'string', 'log-level': 'string', 'log-format': 'string' });
    const cb = await loadCloudBridge();
    const { CloudBridge, ExternalCloudBridge, GatewayCredentials, credentialsFile } = cb;
    /** The config of the bridge a secret is issued for: only dataDir is read, not the store's or broker's secrets. */
    const issuingConfig = (what: string, file: string): ReturnType<typeof cb.resolveCloudConfig> => {
      if (typeof flags['data-dir'] === 'string') {
        if (typeof flags.config === 'string') throw new UsageError('give --config or --data-dir, not both');
        return cb.resolveCloudConfig({ dataDir: resolve(flags['data-dir']) });
      }
      if (typeof flags.config === 'string') return cb.resolveCloudConfig({ dataDir: cb.cloudDataDir(flags.config) });
      throw new UsageError(`${what} needs --config FILE (the bridge's config; its dataDir holds ${file}) or --data-dir DIR (a bridge without --config uses ./cloud-data)`);
    };
    if (rest[0] === 'add-admin-token') {
      if (rest.length !== 2) throw new UsageError('add-admin-token needs exactly one token name');
      const file = cb.fleetAdminTokensFile(issuingConfig('add-admin-token', 'fleet-admin-tokens.json').dataDir);
      const token = new cb.FleetAdminTokens(file).issue(rest[1]!, systemClock.now());
      process.stdout.write(`admin token: ${token}\nname: ${rest[1]}\nfile: ${file}\n(shown once; give it to \`fieldmesh fleet\` as --token or FM_FLEET_TOKEN)\n`);
      return 0;
    }
    if (rest[0] === 'add-gateway') {
      if (rest.length !== 2) throw new UsageError('add-gateway needs exactly one gateway id');
      const file = credentialsFile(issuingConfig('add-gateway', 'gateways.json'));
      const publicKey = typeof flags['public-key'] === 'string' ? flags['public-key'] : undefined;
      const issued = new GatewayCredentials(file).enrol(rest[1]!, { rotate: flags.rotate === true, ...(publicKey !== undefined ? { publicKey } : {}) });
      process.stdout.write(
        `gateway: ${rest[1]}\npassword: ${issued.password}\norigin key: ${issued.publicKey}\n` +
          (issued.signingKey !== null ? `signing key: ${issued.signingKey}\n` : '') +
          `credentials: ${file}\n(shown once; give gateway ${rest[1]} ${issued.signingKey !== null ? 'both in its environment, FM_UPLINK_PASSWORD and FM_UPLINK_SIGNING_KEY, read by uplink.password and uplink.signingKey' : 'it in its environment as FM_UPLINK_PASSWORD, read by uplink.password'})\n`,
      );
      return 0;
    }
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    if (flags.rotate) throw new UsageError('--rotate only goes with add-gateway');
    if (flags['public-key'] !== undefined) throw new UsageError('--public-key only goes with add-gateway');
    if (flags['data-dir'] !== undefined) throw new UsageError('--data-dir only goes with add-gateway (set dataDir in the config file)');
    const format = logFormat(flags['log-format']);
    const cfg = config(cb, flags);
    const level = typeof flags['log-level'] === 'string' ? checkLogLevel(flags['log-level']) : 'info';
    const logger = programLogger({ level, format });
    // Signal handlers before the ready lines: a SIGTERM or SIGHUP right after them is handled.
    const stopped = untilSignal(cloudReload(cb, flags, cfg, logger));
    process.stdout.write(`cloud data: ${cfg.dataDir}\n`);
    if (cfg.broker.url !== undefined) {
      // Scale-out mode: an external MQTT 5 broker with shared subscriptions (cloud-bridge/src/external-broker/EXTERNAL.md).
      const external = await ExternalCloudBridge.start(cfg, { logger });
      process.stdout.write(
        `cloud broker: ${cfg.broker.url} (external, share group ${cfg.broker.shareGroup})\ncloud http: http://${cfg.http.host}:${external.httpPort}/\n` +
          liveTokenLines(external.live.issuedToken, cfg.http.host, external.httpPort),
      );
      await stopped;
      await external.stop();
      return 0;
    }
    const bridge = await CloudBridge.start(cfg, { logger });
    if (cfg.broker.auth === 'credentials' && new GatewayCredentials(credentialsFile(cfg)).ids().length === 0) {
      process.stdout.write(`no gateway credentials yet: run \`fieldmesh cloud add-gateway ID ${typeof flags.config === 'string' ? `--config ${flags.config}` : `--data-dir ${cfg.dataDir}`}\`\n`);
    }
    process.stdout.write(
      `cloud broker: ${cfg.broker.tls ? 'mqtts' : 'mqtt'}://${cfg.broker.host}:${bridge.brokerPort}\ncloud http: http://${cfg.http.host}:${bridge.httpPort}/\n` + liveTokenLines(bridge.live.issuedToken, cfg.http.host, bridge.httpPort),
    );
    await stopped;
    await bridge.stop();
    return 0;
  },
};

export default cloud;
