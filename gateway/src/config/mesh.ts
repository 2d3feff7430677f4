import { ConfigError } from './errors.js';
import { bool, int, listOf, nullable, section, str, type Check } from './checks.js';

/** Gossip membership among a site's gateways (the mesh engineer deepens this section). */
export interface MeshConfig {
  /** UDP port for gossip. Default 7946 (as memberlist). 0 = any free port. */
  port: number;
  /** Find seed peers by mDNS (`_fieldmesh._udp`). Default true. */
  mdns: boolean;
  /** Static seeds `host:port`, for networks without multicast. Default none. */
  seeds: string[];
  /** Cluster key, base64 of 32 bytes (AES-256-GCM). null (default) = no mesh encryption. */
  key: string | null;
}

export const meshDefaults: MeshConfig = { port: 7946, mdns: true, seeds: [], key: null };

const seed = str({ pattern: /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, hint: 'host:port (IPv6 as [addr]:port)', max: 300 });

const key: Check<string> = (v, path) => {
  const s = str({ pattern: /^[A-Za-z0-9+/]+={0,2}$/, hint: 'base64' })(v, path);
  if (Buffer.from(s, 'base64').length !== 32) throw new ConfigError('FM_ERR_CONFIG_RANGE', path, 'expected base64 of exactly 32 bytes (openssl rand -base64 32)');
  return s;
};

export const checkMesh: Check<MeshConfig> = section<MeshConfig>(
  { port: int(0, 65535), mdns: bool, seeds: listOf(seed, 1000), key: nullable(key) },
  meshDefaults,
);
