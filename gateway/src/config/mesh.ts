import { parseAddress } from '../mesh/address.js';
import { tuningProblem } from '../mesh/config.js';
import { ConfigError } from './errors.js';
import { bool, int, isMapping, listOf, nullable, oneOf, section, str, type Check } from './checks.js';

/**
 * Gossip membership among a site's gateways (gateway/src/mesh/README.md). This is the one parser
 * of the `mesh:` section: the mesh builds what it runs on from the result (mesh/config.ts
 * `meshSection`) and checks nothing again.
 */
export interface MeshConfig {
  /** UDP port for gossip. Default 7946 (as memberlist). 0 = any free port. */
  port: number;
  /** Find seed peers by mDNS (`_fieldmesh._udp`). Default true. */
  mdns: boolean;
  /** Static seeds `host:port`, for networks without multicast. Default none. */
  seeds: string[];
  /**
   * Cluster key, base64 of 32 bytes (AES-256-GCM), the same on every gateway of the mesh.
   * null (default) = the mesh is off: every mesh packet is encrypted, and there is no shared
   * default key. Generate one with `openssl rand -base64 32`.
   */
  key: string | null;
  /** Further keys still accepted during a live key rotation (the `key` one sends). Default none. */
  keys: string[];
  /** Cluster label, authenticated in every packet: meshes with different labels never mix. Default "fieldmesh". */
  label: string;
  /** Timing preset (gateway/src/mesh/config.ts documents every field): lan (default), wan, local. */
  preset: 'lan' | 'wan' | 'local';
  /** Address to bind the UDP socket to. Default 0.0.0.0. */
  bind: string;
  /** Address peers should use ("ip:port") when the bound one is not reachable as is (NAT). Default null. */
  advertise: string | null;
  /**
   * Per-field overrides of the preset's timing, e.g. `{ probeIntervalMs: 500, lifeguard: true }`.
   * gateway/src/mesh/config.ts `MeshTuning` documents every field (unit, the preset values, the
   * trade-off) and its range; unknown keys and values out of range are refused, and so is a
   * probeTimeoutMs not below probeIntervalMs. Default none: the preset as it is.
   */
  tuning: Record<string, number | boolean>;
}

export const meshDefaults: MeshConfig = { port: 7946, mdns: true, seeds: [], key: null, keys: [], label: 'fieldmesh', preset: 'lan', bind: '0.0.0.0', advertise: null, tuning: {} };

const seedText = str({ pattern: /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):\d{1,5}$/, hint: 'host:port (IPv6 as [addr]:port)', max: 300 });
const seed: Check<string> = (v, path) => {
  const s = seedText(v, path);
  const port = Number(s.slice(s.lastIndexOf(':') + 1));
  if (port < 1 || port > 65535) throw new ConfigError('FM_ERR_CONFIG_RANGE', path, `port ${port} of "${s}" is not 1-65535`);
  return s;
};

/** An address peers can reach: an IP literal with a port (the mesh's own address rules). */
const advertise: Check<string> = (v, path) => {
  const s = str({ max: 64 })(v, path);
  try {
    parseAddress(s);
  } catch (err) {
    throw new ConfigError('FM_ERR_CONFIG_RANGE', path, `${(err as Error).message.split(' (FM_ERR_')[0]}; expected ip:port (IPv6 as [addr]:port)`);
  }
  return s;
};

/** The overrides' shape here; their keys and ranges are the mesh's, checked with the preset below. */
const tuningOverrides: Check<Record<string, number | boolean>> = (v, path) => {
  if (!isMapping(v)) throw new ConfigError('FM_ERR_CONFIG_TYPE', path, 'expected a mapping of tuning fields, e.g. { probeIntervalMs: 500 }');
  return { ...v } as Record<string, number | boolean>;
};

const key: Check<string> = (v, path) => {
  const s = str({ pattern: /^[A-Za-z0-9+/]+={0,2}$/, hint: 'base64' })(v, path);
  if (Buffer.from(s, 'base64').length !== 32) throw new ConfigError('FM_ERR_CONFIG_RANGE', path, 'expected base64 of exactly 32 bytes (openssl rand -base64 32)');
  return s;
};

const checkMeshKeys: Check<MeshConfig> = section<MeshConfig>(
  {
    port: int(0, 65535),
    mdns: bool,
    seeds: listOf(seed, 1000),
    key: nullable(key),
    keys: listOf(key, 16),
    label: str({ pattern: /^[\x20-\x7e]+$/, hint: 'printable ASCII', max: 128 }),
    preset: oneOf('lan', 'wan', 'local'),
    bind: str({ pattern: /^[0-9a-fA-F:.]+$/, hint: 'an IP address', max: 64 }),
    advertise: nullable(advertise),
    tuning: tuningOverrides,
  },
  meshDefaults,
);

export const checkMesh: Check<MeshConfig> = (v, path) => {
  const c = checkMeshKeys(v, path);
  // Tuning is checked against the chosen preset (probeTimeoutMs must stay below probeIntervalMs).
  const problem = tuningProblem(c.preset, c.tuning);
  if (problem) throw new ConfigError(problem.unknown ? 'FM_ERR_CONFIG_UNKNOWN_KEY' : 'FM_ERR_CONFIG_RANGE', `${path}.tuning.${problem.key}`, problem.detail);
  // An IPv4 socket cannot send to an IPv6 address: such a seed would never be contacted, silently.
  if (!c.bind.includes(':')) {
    const i = c.seeds.findIndex((s) => s.startsWith('['));
    if (i !== -1) throw new ConfigError('FM_ERR_CONFIG_RANGE', `${path}.seeds[${i}]`, `${c.seeds[i]} is IPv6 but mesh.bind ${c.bind} is IPv4; give the seed's IPv4 address or set mesh.bind to "::" (both families)`);
  }
  return c;
};

/** Parses a raw `mesh:` section on its own (the gateway config parses it as part of the file). */
export function parseMeshConfig(raw: unknown): MeshConfig {
  return checkMesh(raw, 'mesh');
}
