import type { BatchSign } from '@fieldmesh/protocol';
import { join } from 'node:path';
import type { Clock, Logger } from '@fieldmesh/device-sdk';
import type { GatewayConfig } from './config/gateway-config.js';
import type { MemberView } from './mesh/mesh.js';
import { KeyRing } from './mesh/keyring.js';
import type { ReadingLog } from './store/reading-log.js';
import { readUplinkTls } from './uplink/uplink-tls-files.js';
import { RelayNode } from './relay/relay-node.js';
import { MeshRelayPeers } from './relay/relay-peers.js';
import { MqttRelayUpstream } from './relay/relay-upstream.js';

/** How long a sealed relay frame stays acceptable (replay protection of the channel). */
const REPLAY_WINDOW_MS = 5 * 60_000;

/**
 * The relay as the gateway runs it (relay/RELAY.md), wired from the mesh key ring, the uplink's
 * credentials and the reading log: off unless `relay.enabled` and a mesh key (the
 * channel between gateways is sealed with the cluster key). Peers come from the mesh's member
 * list; without an uplink of its own the gateway uses relays and never serves. Returns the
 * started node and its port, or null when off (the caller registers its metrics).
 */
export async function startGatewayRelay(deps: {
  config: Readonly<GatewayConfig>;
  log: ReadingLog;
  uplinkOnline: () => boolean;
  members: () => MemberView[];
  /** Signs this gateway's batches as their origin (relayed and replicated alike). */
  sign?: BatchSign;
  clock: Clock;
  logger: Logger;
}): Promise<{ relay: RelayNode; port: number } | null> {
  const cfg = deps.config;
  if (!cfg.relay.enabled) return null;
  if (cfg.mesh.key === null) {
    deps.logger.info({ component: 'relay' }, 'relay off: it needs mesh.key (the channel between gateways is sealed with the cluster key)');
    return null;
  }
  const up = cfg.uplink;
  const relay = new RelayNode({
    selfId: cfg.id,
    ...(deps.sign ? { sign: deps.sign } : {}),
    log: deps.log,
    uplinkOnline: deps.uplinkOnline,
    peers: new MeshRelayPeers(deps.members),
    credentials: { keyring: new KeyRing([cfg.mesh.key, ...cfg.mesh.keys]), label: cfg.mesh.label, clock: deps.clock, replayWindowMs: REPLAY_WINDOW_MS },
    upstream: up
      ? new MqttRelayUpstream({ relayId: cfg.id, url: up.url, username: up.username ?? cfg.id, ...(up.password !== null ? { password: up.password } : {}), tls: readUplinkTls(up) })
      : null,
    port: cfg.relay.port,
    host: cfg.relay.host ?? cfg.mesh.bind,
    clock: deps.clock,
    logger: deps.logger,
    route: { afterMs: cfg.relay.afterMs, window: cfg.relay.window, batchReadings: cfg.relay.batchReadings, ackTimeoutMs: cfg.relay.ackTimeoutMs },
    serve: { window: cfg.relay.serveWindow, maxOrigins: cfg.relay.maxOrigins },
    replication: { k: cfg.relay.replicas, deadAfterMs: cfg.relay.deadAfterMs, recentReadings: cfg.relay.recentReadings, storeFile: join(cfg.dataDir, 'replicas.db') },
  });
  const port = await relay.start();
  return { relay, port };
}
