import { machine } from 'node:os';
import type { Clock, Logger } from '@fieldmesh/device-sdk';
import { fleetTopics } from '@fieldmesh/protocol';
import type { GatewayConfig, GatewayConfigSource } from './config/gateway-config.js';
import type { HttpGet } from './fleet/bundle-fetch.js';
import { chooseTransport, httpBundleSource, uplinkBundleSource, type BundleSource } from './fleet/bundle-source.js';
import { configChecker } from './fleet/config-overlay.js';
import { bundleHttpGet } from './fleet/bundle-http.js';
import { readUplinkTls } from './uplink/uplink-tls-files.js';
import { FleetAgent } from './fleet/fleet-agent.js';
import { runningRelease } from './fleet/running-release.js';
import type { TrialProbe } from './fleet/trial-confirmation.js';
import type { Uplink } from './uplink/uplink.js';
import { uplinkChunkChannel } from './uplink-chunk-channel.js';
import type { MetricsRegistry } from './metrics/prometheus.js';

/** What the gateway command knows about how it was started, for the fleet agent. */
export interface GatewayFleetDeps {
  /** The base config as read (a revision is validated against base + its sections). */
  source?: GatewayConfigSource;
  /** Revision of the verified --config-overlay in force; null: the base config only. */
  configRevision?: number | null;
  /** Default: the release this code runs from (fleet/running-release.ts). */
  running?: { version: string; releaseDir: string | null };
  /** FM_FLEET_TRIAL and WATCHDOG_USEC come from here. Default process.env. */
  env?: Record<string, string | undefined>;
  machine?: string;
  nodeAbi?: string;
  get?: HttpGet;
  retryMs?: number;
  /** Over the uplink: bytes per chunk request, when an unanswered one is asked again, the idle timeout (defaults in bundle-mqtt.ts). */
  chunkBytes?: number;
  resendMs?: number;
  idleTimeoutMs?: number;
}

/**
 * The fleet agent as the gateway runs it, when `fleet:` is configured (else null: nothing of
 * fleet runs). It reads the desired topic through the uplink's session and keeps the reported
 * state retained there; `restart` is the gateway's own graceful stop and exit.
 */
export function createGatewayFleet(deps: {
  config: Readonly<GatewayConfig>;
  uplink: Uplink | null;
  fleet: GatewayFleetDeps;
  probe: TrialProbe;
  metrics: MetricsRegistry;
  restart: (code: number) => void;
  clock: Clock;
  logger: Logger;
}): FleetAgent | null {
  const { config: cfg, uplink } = deps;
  if (cfg.fleet === null) return null;
  if (uplink === null || cfg.uplink === null) {
    // An image may carry release keys before it knows its cloud: nothing can arrive until then.
    deps.logger.warn({}, 'fleet is configured but uplink is not: no desired state can arrive until uplink.url is set');
    return null;
  }
  const env = deps.fleet.env ?? process.env;
  const running = deps.fleet.running ?? (() => {
    const r = runningRelease();
    return { version: r.version, releaseDir: r.dir };
  })();
  const usec = Number(env.WATCHDOG_USEC ?? 0);
  const agent = new FleetAgent({
    gatewayId: cfg.id,
    fleet: cfg.fleet,
    dataDir: cfg.dataDir,
    channel: { online: () => uplink.stats().state === 'online', publishReported: (p) => uplink.publishRetained(fleetTopics.reported(cfg.id), p) },
    running: { version: running.version, releaseDir: running.releaseDir, configRevision: deps.fleet.configRevision ?? null },
    checkConfig: deps.fleet.source ? configChecker(deps.fleet.source) : () => 'the gateway runs without a config file, so no revision can be checked against it',
    bundles: bundleSource(cfg, uplink, deps),
    trial: env.FM_FLEET_TRIAL === '1',
    probe: deps.probe,
    watchdogMs: Number.isFinite(usec) && usec > 0 ? Math.max(1, Math.floor(usec / 2000)) : 0,
    machine: deps.fleet.machine ?? machine(),
    nodeAbi: deps.fleet.nodeAbi ?? process.versions.modules,
    restart: deps.restart,
    clock: deps.clock,
    logger: deps.logger,
    ...(deps.fleet.retryMs !== undefined ? { retryMs: deps.fleet.retryMs } : {}),
  });
  uplink.subscribe(fleetTopics.desired(cfg.id), (payload) => agent.onDesired(payload));
  deps.metrics.register(() => agent.counters.families());
  return agent;
}

/** HTTP from `fleet.cloudUrl`, or chunks over this uplink (fleet.bundleTransport, bundle-source.ts). */
function bundleSource(cfg: Readonly<GatewayConfig>, uplink: Uplink, deps: { fleet: GatewayFleetDeps; clock: Clock }): BundleSource {
  const u = cfg.uplink!;
  const f = cfg.fleet!;
  const tuning = { ...(deps.fleet.idleTimeoutMs !== undefined ? { idleTimeoutMs: deps.fleet.idleTimeoutMs } : {}) };
  if (chooseTransport(f.bundleTransport, u.password !== null) === 'http') {
    const username = u.username ?? cfg.id;
    return httpBundleSource({
      cloudUrl: f.cloudUrl,
      authorization: u.password === null ? null : `Basic ${Buffer.from(`${username}:${u.password}`).toString('base64')}`,
      // The cloud's HTTPS is checked against the uplink's CA when one is configured (and its client certificate offered).
      get: deps.fleet.get ?? bundleHttpGet(readUplinkTls(u)),
      clock: deps.clock,
      ...tuning,
    });
  }
  const channel = uplinkChunkChannel(uplink, cfg.id);
  const d = deps.fleet;
  return uplinkBundleSource({ channel, clock: deps.clock, ...tuning, ...(d.chunkBytes !== undefined ? { chunkBytes: d.chunkBytes } : {}), ...(d.resendMs !== undefined ? { resendMs: d.resendMs } : {}) });
}
