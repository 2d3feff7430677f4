import { GROUP_TAG, IDENTIFIER_RULE } from '@fieldmesh/protocol';
import { int, listOf, nullable, oneOf, section, str, type Check } from './checks.js';
import { ConfigError } from './errors.js';

/**
 * Fleet operations (gateway/src/fleet/FLEET-AGENT.md): signed releases and config revisions
 * arrive as desired state over the uplink. Absent (null, default): no fleet agent.
 */
export interface FleetConfig {
  /** base64 Ed25519 public keys (32 bytes) releases, configs and rollback orders must be signed with. Required; a list so a key can be rotated. */
  releaseKeys: string[];
  /** Group tags of this gateway, reported up (the cloud targets groups by them). */
  tags: string[];
  /** http(s) base URL of the cloud's HTTP API, where release bundles are downloaded from. null: releases are refused (configs still apply). */
  cloudUrl: string | null;
  /** Where releases are unpacked side by side (`<version>/`, `current`). Relative to the config file. */
  releasesDir: string;
  /** A new release or config must confirm it is healthy within this many seconds of its start, else the launcher rolls back. */
  confirmDeadlineSec: number;
  /** Starts a new release or config gets to confirm before the launcher rolls back. */
  maxAttempts: number;
  /**
   * How release bundles are downloaded: `http` from `cloudUrl` with the uplink password, `mqtt`
   * over the uplink connection itself (a gateway with a client certificate only), `auto` (default):
   * http when `uplink.password` is set, else mqtt.
   */
  bundleTransport: 'auto' | 'http' | 'mqtt';
}

export const fleetDefaults: Omit<FleetConfig, 'releaseKeys'> = {
  tags: [],
  cloudUrl: null,
  releasesDir: '/opt/fieldmesh/releases',
  confirmDeadlineSec: 120,
  maxAttempts: 2,
  bundleTransport: 'auto',
};

const RELEASE_KEY = /^[A-Za-z0-9+/]{43}=$/;

const base = section<FleetConfig>(
  {
    releaseKeys: listOf(str({ pattern: RELEASE_KEY, hint: 'a 44-character base64 Ed25519 public key (the publicKey of `fieldmesh fleet keygen`)' }), 16),
    tags: listOf(str({ pattern: GROUP_TAG, hint: `a group tag (${IDENTIFIER_RULE})` }), 32),
    cloudUrl: nullable(str({ pattern: /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, hint: 'an http(s) base URL like https://cloud.example:8443', max: 2048 })),
    releasesDir: str({ max: 4096 }),
    confirmDeadlineSec: int(5, 86_400),
    maxAttempts: int(1, 10),
    bundleTransport: oneOf('auto', 'http', 'mqtt'),
  },
  fleetDefaults,
);

export const checkFleet: Check<FleetConfig> = (value, path) => {
  const f = base(value, path);
  if (f.releaseKeys.length === 0) throw new ConfigError('FM_ERR_CONFIG_RANGE', `${path}.releaseKeys`, 'at least one release key is needed: add the publicKey printed by `fieldmesh fleet keygen`');
  for (const [i, k] of f.releaseKeys.entries()) {
    if (Buffer.from(k, 'base64').length !== 32) throw new ConfigError('FM_ERR_CONFIG_RANGE', `${path}.releaseKeys[${i}]`, 'not 32 bytes of base64: copy the publicKey of the key file again');
  }
  if (f.cloudUrl !== null) f.cloudUrl = f.cloudUrl.replace(/\/+$/, '');
  return f;
};
