import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigEnvError, processConfigEnv, substituteConfigEnv, type ConfigEnv } from '@fieldmesh/device-sdk/config-env';
import { CloudError } from './errors.js';

/**
 * The cloud bridge's one config type, validated once at start so a typo fails before anything listens. Every key is optional; defaults are in
 * `CLOUD_DEFAULTS`; unknown keys are refused with their path named.
 */
export interface CloudConfig {
  broker: {
    /** TCP port of the MQTT listener for gateways. Default 1884; 0 picks a free port. */
    port: number;
    /** Address to bind. Default 127.0.0.1 (set 0.0.0.0 to accept gateways from other hosts). */
    host: string;
    /** `credentials`: each gateway logs in with its id and a password issued by `fieldmesh cloud add-gateway`. `none`: anyone may connect (a lab only). */
    auth: 'credentials' | 'none';
    /**
     * Largest MQTT packet accepted, bytes, checked on the socket before aedes buffers it (aedes has
     * no limit, its issue #831). Default 8 MiB: a batch of the uplink's largest size with margin.
     */
    maxPacketBytes: number;
    /** Concurrent connections; more are refused by the listener. Default 1000. */
    maxConnections: number;
    /** Milliseconds a new connection has to send a CONNECT that authenticates. Default 10000. */
    connectTimeoutMs: number;
    /**
     * Largest packet, bytes, before the CONNECT is authenticated. Default 4096: a CONNECT is an
     * id, a username, a password and a small will; a stranger must not make the broker buffer
     * `maxPacketBytes` per connection before a credential is checked.
     */
    preAuthMaxBytes: number;
    /**
     * Milliseconds one packet may take from its first to its last byte. Default 120000: an
     * 8 MiB batch at about 600 kbit/s; a trickled packet otherwise holds its buffer forever.
     */
    packetTimeoutMs: number;
    /**
     * `mqtt://host:port` of an external MQTT 5 broker (Mosquitto, EMQX, HiveMQ) to use instead of
     * the embedded one; then port/host/auth/limits above do not apply (the broker's own ACL does),
     * and bridges sharing `shareGroup` split the batches. Unset (default): embedded aedes.
     */
    url?: string;
    /** Login of this bridge at the external broker. */
    username?: string;
    password?: string;
    /** MQTT 5 shared-subscription group of the bridges (`$share/<group>/fm/g/+/batch`). Default `fieldmesh`. */
    shareGroup: string;
    /**
     * TLS on the gateway listener (embedded broker only); unset (default): plain TCP, for a lab or
     * behind a TLS-terminating proxy. Paths are relative to the config file.
     */
    tls?: {
      /** PEM server certificate (chain) and its key. Required together. */
      cert: string;
      key: string;
      /**
       * PEM CA(s) that sign gateway client certificates. When set, clients are asked for a
       * certificate; a verified one proves the gateway id in its subject CN (a username, if
       * sent, must then equal the CN; the certificate replaces the password).
       */
      ca?: string;
      /** Refuse clients without a certificate signed by `ca` (mTLS). Default false. Needs `ca`. */
      requireClientCert: boolean;
    };
  };
  http: {
    /** HTTP port for the API and the page. Default 8080; 0 picks a free port. */
    port: number;
    /** Default 127.0.0.1. */
    host: string;
    /**
     * Host names (besides IP literals, `localhost` and this machine's name) the HTTP server
     * answers to, e.g. a reverse proxy's public name. Default none. Any other `Host` gets 421:
     * a 127.0.0.1 bind does not stop DNS rebinding, a Host check does.
     */
    allowedHosts: readonly string[];
    /** Ms a client has to send its request headers (slowloris). Default 10000. */
    headersTimeoutMs: number;
    /** Ms a client has to send its whole request. Default 30000. */
    requestTimeoutMs: number;
  };
  /**
   * A read-only MQTT listener (plain TCP, or TLS with `tls`) for `fm/live/…`, for clients that
   * do not speak WebSocket (`mosquitto_sub`, Node-RED, Telegraf): any username, a live token as
   * password, as on `/mqtt`. Unset (default): no such listener. `host` defaults to `http.host`.
   */
  liveMqtt?: { port: number; host: string; tls?: { cert: string; key: string } };
  /** Fleet operations: releases, config revisions, rollouts (cloud-bridge/src/fleet/FLEET-CLOUD.md). */
  fleet: {
    /**
     * Release public keys (base64 of raw 32-byte Ed25519 keys, as in the key file of `fieldmesh
     * fleet keygen`). When set, an uploaded release, config or rollback envelope must be signed
     * by one of them (an early refusal; gateways check again with their own list). Default none:
     * envelopes are checked for shape only. The cloud never holds a signing key.
     */
    releaseKeys: readonly string[];
    /** Largest release bundle an upload may be, bytes. Default 268435456 (256 MiB). */
    maxBundleBytes: number;
  };
  /** Directory for the credentials file and, by default, the database. Default ./cloud-data. */
  dataDir: string;
  /**
   * SQLite file path (default `<dataDir>/cloud.sqlite`), or a `postgres://user:pass@host:port/db`
   * URL to share one PostgreSQL database between several bridge processes (see isPostgresStore).
   */
  store: string;
}

export const CLOUD_DEFAULTS = {
  broker: { port: 1884, host: '127.0.0.1', auth: 'credentials', maxPacketBytes: 8 * 1024 * 1024, maxConnections: 1000, connectTimeoutMs: 10_000, preAuthMaxBytes: 4096, packetTimeoutMs: 120_000, shareGroup: 'fieldmesh' },
  http: { port: 8080, host: '127.0.0.1', allowedHosts: [] as readonly string[], headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 },
  fleet: { releaseKeys: [] as readonly string[], maxBundleBytes: 256 * 1024 * 1024 },
  dataDir: './cloud-data',
} as const;

type Shape = { [key: string]: 'port' | 'host' | 'string' | 'strings' | 'keys' | 'positive' | 'boolean' | { enum: readonly string[] } | Shape };

const SHAPE: Shape = {
  broker: { port: 'port', host: 'host', auth: { enum: ['credentials', 'none'] }, maxPacketBytes: 'positive', maxConnections: 'positive', connectTimeoutMs: 'positive', preAuthMaxBytes: 'positive', packetTimeoutMs: 'positive', url: 'string', username: 'string', password: 'string', shareGroup: 'string', tls: { cert: 'string', key: 'string', ca: 'string', requireClientCert: 'boolean' } },
  http: { port: 'port', host: 'host', allowedHosts: 'strings', headersTimeoutMs: 'positive', requestTimeoutMs: 'positive' },
  liveMqtt: { port: 'port', host: 'host', tls: { cert: 'string', key: 'string' } },
  fleet: { releaseKeys: 'keys', maxBundleBytes: 'positive' },
  dataDir: 'string',
  store: 'string',
};

function bad(path: string, why: string): never {
  throw new CloudError('FM_ERR_CLOUD_CONFIG', `${path}: ${why}`);
}

function check(value: unknown, shape: Shape, path: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(path || '(top level)', 'must be a mapping of keys');
  for (const [key, v] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    const rule = shape[key];
    if (rule === undefined) bad(at, `unknown key; known keys here: ${Object.keys(shape).join(', ')}`);
    if (rule === 'port') {
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 65535) bad(at, `must be an integer port 0..65535 (0 = any free port), got ${JSON.stringify(v)}`);
    } else if (rule === 'positive') {
      if (!Number.isInteger(v) || (v as number) < 1) bad(at, `must be a positive integer, got ${JSON.stringify(v)}`);
    } else if (rule === 'strings') {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && /^[A-Za-z0-9.-]{1,253}$/.test(x))) bad(at, `must be a list of host names, got ${JSON.stringify(v).slice(0, 120)}`);
    } else if (rule === 'keys') {
      const isKey = (x: unknown) => typeof x === 'string' && /^[A-Za-z0-9+/]{43}=$/.test(x) && Buffer.from(x, 'base64').length === 32;
      if (!Array.isArray(v) || !v.every(isKey)) bad(at, `must be a list of Ed25519 public keys (base64 of 32 bytes, the publicKey of a \`fieldmesh fleet keygen\` key file), got ${JSON.stringify(v).slice(0, 120)}`);
    } else if (rule === 'boolean') {
      if (typeof v !== 'boolean') bad(at, `must be true or false, got ${JSON.stringify(v)}`);
    } else if (rule === 'host' || rule === 'string') {
      if (typeof v !== 'string' || v.length === 0) bad(at, `must be a non-empty string, got ${JSON.stringify(v)}`);
    } else if ('enum' in rule && Array.isArray(rule.enum)) {
      if (!rule.enum.includes(v as string)) bad(at, `must be one of ${rule.enum.join(' | ')}, got ${JSON.stringify(v)}`);
    } else {
      check(v, rule as Shape, at);
    }
  }
}

/** Whether `store` names a PostgreSQL database rather than a SQLite file. */
export function isPostgresStore(store: string): boolean {
  return /^postgres(ql)?:\/\//.test(store);
}

/** Validates a parsed config object (every key optional) and returns the frozen full config. */
export function resolveCloudConfig(input: unknown = {}, baseDir = process.cwd()): CloudConfig {
  check(input ?? {}, SHAPE, '');
  const raw = (input ?? {}) as { broker?: Partial<CloudConfig['broker']>; http?: Partial<CloudConfig['http']>; liveMqtt?: Partial<NonNullable<CloudConfig['liveMqtt']>>; fleet?: Partial<CloudConfig['fleet']>; dataDir?: string; store?: string };
  const dataDir = resolve(baseDir, raw.dataDir ?? CLOUD_DEFAULTS.dataDir);
  const config: CloudConfig = {
    broker: { ...CLOUD_DEFAULTS.broker, ...raw.broker },
    http: { ...CLOUD_DEFAULTS.http, ...raw.http },
    fleet: { ...CLOUD_DEFAULTS.fleet, ...raw.fleet },
    dataDir,
    store: raw.store === undefined ? join(dataDir, 'cloud.sqlite') : isPostgresStore(raw.store) ? raw.store : resolve(baseDir, raw.store),
  };
  if (config.broker.url !== undefined && !/^(mqtts?|wss?):\/\/[^/\s]+/.test(config.broker.url)) bad('broker.url', `must look like mqtt://host:1883, got ${JSON.stringify(config.broker.url.slice(0, 80))}`);
  if (raw.broker?.tls !== undefined) {
    const t = raw.broker.tls as Partial<NonNullable<CloudConfig['broker']['tls']>>;
    if (t.cert === undefined || t.key === undefined) bad(`broker.tls.${t.cert === undefined ? 'cert' : 'key'}`, 'TLS needs both cert and key (PEM files)');
    if (t.requireClientCert === true && t.ca === undefined) bad('broker.tls.ca', 'requireClientCert needs ca: the CA that signs the gateways\' certificates');
    config.broker.tls = {
      cert: resolve(baseDir, t.cert),
      key: resolve(baseDir, t.key),
      ...(t.ca !== undefined ? { ca: resolve(baseDir, t.ca) } : {}),
      requireClientCert: t.requireClientCert ?? false,
    };
  }
  if (raw.liveMqtt !== undefined) {
    const l = raw.liveMqtt;
    if (l.port === undefined) bad('liveMqtt.port', 'the read-only MQTT listener needs a port (e.g. 1885; 8885 with tls)');
    const tls = l.tls as Partial<{ cert: string; key: string }> | undefined;
    if (tls !== undefined && (tls.cert === undefined || tls.key === undefined)) bad(`liveMqtt.tls.${tls.cert === undefined ? 'cert' : 'key'}`, 'TLS needs both cert and key (PEM files)');
    config.liveMqtt = { port: l.port, host: l.host ?? config.http.host, ...(tls ? { tls: { cert: resolve(baseDir, tls.cert!), key: resolve(baseDir, tls.key!) } } : {}) };
  }
  if (config.broker.preAuthMaxBytes < 256 || config.broker.preAuthMaxBytes > config.broker.maxPacketBytes) bad('broker.preAuthMaxBytes', `must be 256..maxPacketBytes (${config.broker.maxPacketBytes}), got ${config.broker.preAuthMaxBytes}`);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(config.broker.shareGroup)) bad('broker.shareGroup', 'must be 1..64 of A-Z a-z 0-9 _ . - (no / + #: it stands in a topic filter)');
  if (isPostgresStore(config.store)) {
    try {
      new URL(config.store);
    } catch {
      bad('store', 'is not a valid postgres:// URL (postgres://user:password@host:5432/database)');
    }
  }
  return deepFreeze(config);
}

/**
 * Only the data directory of `file` (where `add-gateway` writes gateways.json): the rest of the
 * file and its secrets (`${FM_PG_URL}`, the broker password) are not needed for that.
 */
export function cloudDataDir(file: string, env: ConfigEnv = processConfigEnv()): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CloudError('FM_ERR_CLOUD_CONFIG_FILE', `cannot read ${file}: ${(err as Error).message}`);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new CloudError('FM_ERR_CLOUD_CONFIG_FILE', `${file} is not valid YAML: ${doc.errors[0]!.message}`);
  try {
    substituteConfigEnv(doc, env, (p) => p === 'dataDir');
  } catch (err) {
    if (!(err instanceof ConfigEnvError)) throw err;
    throw new CloudError('FM_ERR_CLOUD_CONFIG_ENV', `${file}: ${err.path}: ${err.message}`);
  }
  const dataDir = (doc.toJS({ maxAliasCount: 100 }) as { dataDir?: unknown } | null)?.dataDir ?? CLOUD_DEFAULTS.dataDir;
  if (typeof dataDir !== 'string' || dataDir.length === 0) bad('dataDir', `must be a non-empty string, got ${JSON.stringify(dataDir)}`);
  return resolve(resolve(file, '..'), dataDir);
}

/**
 * Reads a YAML config file, `${VAR}` substituted from `env` (device-sdk/src/config-env.ts);
 * relative paths in it are relative to the file's directory.
 */
export function loadCloudConfig(file: string, env: ConfigEnv = processConfigEnv()): CloudConfig {
  let text: string;
  try {
    // A config is a few kB; parsing a file of tens of MB takes gigabytes: refuse by size first.
    const st = statSync(file);
    if (!st.isFile() || st.size > 1024 * 1024) throw new Error(`${st.isFile() ? `${st.size} bytes` : 'not a regular file'}, at most 1048576 (a config is a few kB)`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CloudError('FM_ERR_CLOUD_CONFIG_FILE', `cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    const doc = parseDocument(text, { uniqueKeys: true });
    if (doc.errors.length > 0) throw doc.errors[0]!;
    try {
      substituteConfigEnv(doc, env);
    } catch (err) {
      if (!(err instanceof ConfigEnvError)) throw err;
      throw new CloudError('FM_ERR_CLOUD_CONFIG_ENV', `${file}: ${err.path}: ${err.message}`);
    }
    // maxAliasCount bounds a "billion laughs" alias bomb in a hostile file.
    parsed = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    if (err instanceof CloudError) throw err;
    throw new CloudError('FM_ERR_CLOUD_CONFIG_FILE', `${file} is not valid YAML: ${(err as Error).message}`);
  }
  return resolveCloudConfig(parsed ?? {}, resolve(file, '..'));
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
