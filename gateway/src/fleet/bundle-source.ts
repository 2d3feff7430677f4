import type { Clock } from '@fieldmesh/device-sdk';
import { fetchBundle, type HttpGet } from './bundle-fetch.js';
import { fetchBundleOverUplink, type ChunkChannel } from './bundle-mqtt.js';
import type { BundleFetchResult, BundleTarget } from './bundle-part.js';

export type BundleTransport = 'http' | 'mqtt';

export interface BundleRequest extends BundleTarget {
  version: string;
  /** Path on the cloud's HTTP API (the desired state's `bundlePath`). */
  bundlePath: string;
}

/** Where release bundles come from: the cloud's HTTP API or the uplink connection. */
export interface BundleSource {
  readonly transport: BundleTransport;
  /** Why this source can never fetch (a config a person must change), or null. */
  unavailable(): string | null;
  fetch(r: BundleRequest): Promise<BundleFetchResult>;
}

/**
 * `fleet.bundleTransport: auto` takes HTTP when the uplink has a password (HTTP Basic with it is
 * what the cloud's HTTP API takes), else the uplink connection: a gateway that logs in with a
 * client certificate only has no credential for HTTP, and its uplink session is already proof.
 */
export function chooseTransport(setting: 'auto' | BundleTransport, hasPassword: boolean): BundleTransport {
  if (setting !== 'auto') return setting;
  return hasPassword ? 'http' : 'mqtt';
}

export function httpBundleSource(o: { cloudUrl: string | null; authorization: string | null; get: HttpGet; clock: Clock; idleTimeoutMs?: number }): BundleSource {
  return {
    transport: 'http',
    unavailable: () => (o.cloudUrl === null ? 'fleet.cloudUrl is not set: nowhere to download bundles from (or set fleet.bundleTransport: mqtt)' : null),
    fetch: (r) =>
      fetchBundle({ ...r, url: o.cloudUrl + r.bundlePath, authorization: o.authorization, get: o.get, clock: o.clock, ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}) }),
  };
}

export function uplinkBundleSource(o: { channel: ChunkChannel; clock: Clock; chunkBytes?: number; window?: number; idleTimeoutMs?: number; resendMs?: number }): BundleSource {
  return {
    transport: 'mqtt',
    unavailable: () => null,
    fetch: (r) => fetchBundleOverUplink({ ...o, ...r }),
  };
}
