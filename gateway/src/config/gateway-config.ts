import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { GATEWAY_ID, IDENTIFIER_RULE, isGatewayId } from '@fieldmesh/protocol';
import { ConfigEnvError, processConfigEnv, substituteConfigEnv, type ConfigEnv } from '@fieldmesh/device-sdk/config-env';
import { ConfigError } from './errors.js';
import { deepFreeze, listOf, nullable, oneOf, section, str, type Check } from './checks.js';
import { brokerDefaults, checkBroker, type BrokerConfig } from './broker.js';
import { checkHttp, httpDefaults, type HttpConfig } from './http.js';
import { checkIngest, ingestDefaults, type IngestConfig } from './ingest.js';
import { checkMesh, meshDefaults, type MeshConfig } from './mesh.js';
import { checkRelay, relayDefaults, type RelayConfig } from './relay.js';
import { checkSerialLine, type SerialConfig } from './serial.js';
import { checkIntegrations, integrationsDefaults, type IntegrationsConfig } from './integrations.js';
import { checkModbus, modbusDefaults, type ModbusConfig } from './modbus.js';
import { checkUplink, type UplinkConfig } from './uplink.js';
import { checkRules, type RuleConfig } from './rules.js';
import { checkRollups, rollupsDefaults, type RollupsConfig } from './rollups.js';
import { checkStorage, storageDefaults, type StorageConfig } from './storage.js';
import { checkFleet, type FleetConfig } from './fleet.js';

/** The whole gateway config (a name scripts rely on: keys are only ever added). Every key is optional; see each section. */
export interface GatewayConfig {
  /** Gateway id: names it upstream (`fm/g/<id>/…`) and in the mesh. Default: from the host name. */
  id: string;
  /** Directory for the database and device credentials. Default `./data`; relative to the config file. */
  dataDir: string;
  /** pino level. Default `info`. */
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  broker: BrokerConfig;
  http: HttpConfig;
  ingest: IngestConfig;
  mesh: MeshConfig;
  /** Delivery through peers while the uplink is down (config/relay.ts). */
  relay: RelayConfig;
  /** Serial lines. Default none. */
  serial: SerialConfig[];
  /** Modbus RTU lines and TCP endpoints with their slaves (config/modbus.ts). Default none. */
  modbus: ModbusConfig;
  /** Cloud uplink; null (default) = store and forward until one is configured. */
  uplink: UplinkConfig | null;
  /** Local rules. Default none. */
  rules: RuleConfig[];
  /** Rollup retention per tier and flush cadence (config/rollups.ts). */
  rollups: RollupsConfig;
  /** The reading log's byte budget and policy when full (config/storage.ts). */
  storage: StorageConfig;
  /** Local integrations: Home Assistant discovery (config/integrations.ts). Default off. */
  integrations: IntegrationsConfig;
  /** Fleet operations: signed releases and config revisions from the cloud (config/fleet.ts). null (default): off. */
  fleet: FleetConfig | null;
}

/** A gateway id from the host name: lower case, unsafe characters as `-`, at most 64. */
export function idFromHostname(host = hostname()): string {
  const id = host.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 64);
  return isGatewayId(id) ? id : 'gateway';
}

/** Every default in one place, so `fieldmesh init` and the docs cannot disagree with the code. `id` is filled in from the host name at load. */
export const gatewayDefaults: Omit<GatewayConfig, 'id'> = {
  dataDir: './data',
  logLevel: 'info',
  broker: brokerDefaults,
  http: httpDefaults,
  ingest: ingestDefaults,
  mesh: meshDefaults,
  relay: relayDefaults,
  serial: [],
  modbus: modbusDefaults,
  uplink: null,
  rules: [],
  rollups: rollupsDefaults,
  storage: storageDefaults,
  integrations: integrationsDefaults,
  fleet: null,
};

const checkGateway: Check<GatewayConfig> = (v, path) =>
  section<GatewayConfig>(
    {
      id: str({ pattern: GATEWAY_ID, hint: `a gateway id (${IDENTIFIER_RULE})` }),
      dataDir: str({ max: 4096 }),
      logLevel: oneOf('trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'),
      broker: checkBroker,
      http: checkHttp,
      ingest: checkIngest,
      mesh: checkMesh,
      relay: checkRelay,
      serial: listOf(checkSerialLine, 64),
      modbus: checkModbus,
      uplink: nullable(checkUplink),
      rules: checkRules,
      rollups: checkRollups,
      storage: checkStorage,
      integrations: checkIntegrations,
      fleet: nullable(checkFleet),
    },
    { ...gatewayDefaults, id: idFromHostname() },
  )(v, path);

/**
 * Validates a parsed config object (from YAML or code) and returns it complete and frozen.
 * `baseDir` anchors a relative `dataDir` (the config file's directory; else the working directory).
 */
export function parseGatewayConfig(input: unknown, baseDir = process.cwd()): Readonly<GatewayConfig> {
  const config = checkGateway(input ?? {}, '');
  config.dataDir = resolve(baseDir, config.dataDir);
  // The uplink's TLS files are anchored like dataDir (the config file's directory).
  if (config.uplink) for (const k of ['ca', 'cert', 'key'] as const) if (config.uplink[k] !== null) config.uplink[k] = resolve(baseDir, config.uplink[k]);
  if (config.fleet) config.fleet.releasesDir = resolve(baseDir, config.fleet.releasesDir);
  return deepFreeze(config);
}

/** Largest config file read, bytes: a full gateway config with rules is a few kB. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Only the data directory of `file`, for commands that write into it (add-device, add-app): they
 * need neither the rest of the config valid nor its secrets (`${FM_UPLINK_PASSWORD}`) set.
 */
export function gatewayDataDir(file: string, env: ConfigEnv = processConfigEnv()): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('FM_ERR_CONFIG_FILE', '', `cannot read ${file}: ${(err as Error).message}`);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new ConfigError('FM_ERR_CONFIG_YAML', '', `${file}: ${doc.errors[0]!.message.split('\n')[0]}`);
  try {
    substituteConfigEnv(doc, env, (p) => p === 'dataDir');
  } catch (err) {
    if (!(err instanceof ConfigEnvError)) throw err;
    throw new ConfigError('FM_ERR_CONFIG_ENV', err.path, `${file}: ${err.message}`);
  }
  const data = doc.toJS({ maxAliasCount: 100 }) as { dataDir?: unknown } | null;
  const dataDir = str({ max: 4096 })(data?.dataDir ?? gatewayDefaults.dataDir, 'dataDir');
  return resolve(dirname(resolve(file)), dataDir);
}

/** A config file as read, before validation: overlays (fleet/config-overlay.ts) replace its top-level sections. */
export interface GatewayConfigSource {
  /** The parsed YAML, `${VAR}`s substituted ({} without a file). */
  data: unknown;
  /** Anchors relative paths: the config file's directory. */
  baseDir: string;
}

/**
 * Loads `file` (YAML, `${VAR}` substituted from `env`: device-sdk/src/config-env.ts), or the
 * embedded defaults when `file` is undefined. Throws ConfigError.
 */
export function loadGatewayConfig(file?: string, env: ConfigEnv = processConfigEnv()): Readonly<GatewayConfig> {
  const src = readGatewayConfigSource(file, env);
  return parseGatewayConfig(src.data, src.baseDir);
}

/** Reads and parses `file` without validating it. Throws ConfigError. */
export function readGatewayConfigSource(file?: string, env: ConfigEnv = processConfigEnv()): GatewayConfigSource {
  if (file === undefined) return { data: {}, baseDir: process.cwd() };
  let text: string;
  try {
    const st = statSync(file);
    // A 50 MB file took the parser to 3.4 GB RSS: refuse before reading, by size and kind.
    if (!st.isFile() || st.size > MAX_CONFIG_BYTES) throw new ConfigError('FM_ERR_CONFIG_TOO_LARGE', '', `${file}: ${st.isFile() ? `${st.size} bytes` : 'not a regular file'}, at most ${MAX_CONFIG_BYTES}`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('FM_ERR_CONFIG_FILE', '', `cannot read ${file}: ${(err as Error).message}`);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const at = e.linePos?.[0] ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    throw new ConfigError('FM_ERR_CONFIG_YAML', '', `${file}${at}: ${e.message.split('\n')[0]}`);
  }
  try {
    substituteConfigEnv(doc, env);
  } catch (err) {
    if (!(err instanceof ConfigEnvError)) throw err;
    throw new ConfigError('FM_ERR_CONFIG_ENV', err.path, `${file}: ${err.message}`);
  }
  let data: unknown;
  try {
    // maxAliasCount bounds a "billion laughs" alias bomb in a hostile file.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError('FM_ERR_CONFIG_YAML', '', `${file}: ${(err as Error).message}`);
  }
  return { data, baseDir: dirname(resolve(file)) };
}
