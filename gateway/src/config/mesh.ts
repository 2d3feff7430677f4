import { ConfigError } from './errors.js';
import { bool, int, listOf, nullable, oneOf, section, str, type Check } from './checks.js';

/** Gossip membership among a site's gateways (gateway/src/mesh/README.md). */
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
}

export const meshDefaults: MeshConfig = { port: 7946, mdns: true, seeds: [], key: null, keys: [], label: 'fieldmesh', preset: 'lan', bind: '0.0.0.0', advertise: null };

const seed = str({ pattern: /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, hint: 'host:port (IPv6 as [addr]:port)', max: 300 });

const key: Check<string> = (v, path) => {
  const s = str({ pattern: /^[A-Za-z0-9+/]+={0,2}$/, hint: 'base64' })(v, path);
  if (Buffer.from(s, 'base64').length !== 32) throw new ConfigError('FM_ERR_CONFIG_RANGE', path, 'expected base64 of exactly 32 bytes (openssl rand -base64 32)');
  return s;
};

export const checkMesh: Check<MeshConfig> = section<MeshConfig>(
  {
    port: int(0, 65535),
    mdns: bool,
    seeds: listOf(seed, 1000),
    key: nullable(key),
    keys: listOf(key, 16),
    label: str({ pattern: /^[\x20-\x7e]+$/, hint: 'printable ASCII', max: 128 }),
    preset: oneOf('lan', 'wan', 'local'),
    bind: str({ pattern: /^[0-9a-fA-F:.]+$/, hint: 'an IP address', max: 64 }),
    advertise: nullable(str({ pattern: /^(\[[0-9a-fA-F:.]+\]|[0-9.]+):\d{1,5}$/, hint: 'ip:port (IPv6 as [addr]:port)', max: 64 })),
  },
  meshDefaults,
);
