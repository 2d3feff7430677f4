import { section, str, nullable, int, listOf, type Check } from './checks.js';
import { ConfigError } from './errors.js';

/** Where readings are delivered upstream. Absent (null, default): store and forward until set. */
export interface UplinkConfig {
  /** Cloud broker URL, `mqtt://host:port` or `mqtts://host:port` (TLS). Required. */
  url: string;
  /** Username at the cloud broker. Default: the gateway id. */
  username: string | null;
  /** Password at the cloud broker. Default none (e.g. with a client certificate). */
  password: string | null;
  /**
   * PEM file of the CA(s) that signed the cloud broker's certificate (mqtts:// only). Default
   * null: the system's trusted CAs. The server certificate is always verified (name and chain).
   */
  ca: string | null;
  /** PEM file of this gateway's client certificate (mTLS; its CN should be the gateway id). Needs `key`. */
  cert: string | null;
  /** PEM file of the client certificate's private key. Needs `cert`. */
  key: string | null;
  /** Bytes per second at most on the uplink, for metered links. 0 (default): no cap. */
  maxBytesPerSecond: number;
  /** Ceiling of the adaptive send window, in batches. Default 16. */
  maxInFlight: number;
  /**
   * State series (`device/sensor`, `*` = one whole level, e.g. `*\/state`): only their newest
   * unsent value goes upstream (compaction). Default none.
   */
  stateSeries: string[];
  /**
   * base64 Ed25519 signing key (32 bytes) this gateway signs its batches with, as printed by
   * `fieldmesh cloud add-gateway`. Default null: the key in `<dataDir>/origin-key.json`, made at
   * the first start, whose public key the gateway prints (`origin key: …`) for the cloud.
   */
  signingKey: string | null;
}

const pemFile = nullable(str({ min: 1, max: 4096 }));

const base = section<UplinkConfig>(
  {
    url: str({ pattern: /^mqtts?:\/\/[^\s/]+(:\d{1,5})?\/?$/, hint: 'an MQTT URL like mqtt://cloud.example:1884', max: 2048 }),
    username: nullable(str({ max: 256 })),
    password: nullable(str({ max: 1024 })),
    ca: pemFile,
    cert: pemFile,
    key: pemFile,
    maxBytesPerSecond: int(0, 1_000_000_000),
    maxInFlight: int(1, 1000),
    stateSeries: listOf(str({ pattern: /^[^/\s]+\/[^/\s]+$/, hint: 'device/sensor, each level may be *', max: 256 }), 1000),
    signingKey: nullable(str({ pattern: /^[A-Za-z0-9+/]{43}=$/, hint: 'the 44-character base64 signing key printed by `fieldmesh cloud add-gateway`' })),
  },
  { username: null, password: null, ca: null, cert: null, key: null, maxBytesPerSecond: 0, maxInFlight: 16, stateSeries: [], signingKey: null },
);

export const checkUplink: Check<UplinkConfig> = (value, path) => {
  const u = base(value, path);
  const tls = u.url.startsWith('mqtts://');
  for (const k of ['ca', 'cert', 'key'] as const) {
    if (u[k] !== null && !tls) throw new ConfigError('FM_ERR_CONFIG_RANGE', `${path}.${k}`, `TLS files need an mqtts:// url (got ${u.url}); change ${path}.url to mqtts://…`);
  }
  if ((u.cert === null) !== (u.key === null)) throw new ConfigError('FM_ERR_CONFIG_RANGE', `${path}.${u.cert === null ? 'cert' : 'key'}`, `a client certificate needs both ${path}.cert and ${path}.key`);
  return u;
};
