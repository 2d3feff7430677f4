import type { Clock, Logger } from '@fieldmesh/device-sdk';
import type { HttpApi } from '../http/server.js';
import type { MetricFamily, MetricsRegistry } from '../metrics/prometheus.js';
import { meshSection, type MeshSectionInput } from './config.js';
import { Mesh } from './mesh.js';
import type { MemberMeta } from './meta.js';
import type { MeshMetrics } from './metrics.js';

/** The gateway config's `mesh:` section as gateway/src/config/mesh.ts validates it. */
export type GatewayMeshConfig = MeshSectionInput;

export interface GatewayMeshDeps {
  id: string;
  config: GatewayMeshConfig;
  http: HttpApi;
  metrics: MetricsRegistry;
  /** What this gateway tells its peers; read every `metaIntervalMs` and gossiped when it changed meaningfully. */
  meta: () => MemberMeta;
  /** ms between metadata checks (default 10000). */
  metaIntervalMs?: number;
  clock?: Clock;
  logger: Logger;
  /** multicast-dns socket options (loopback demos: { interface: '127.0.0.1', bind: '0.0.0.0' }). */
  mdnsSocket?: { interface?: string; bind?: string };
  /** The gateway's MQTT port, published as TXT `mqtt` so devices can find the broker over mDNS. */
  mqttPort?: number;
}

/**
 * Wires the mesh into a gateway: starts it, serves `GET /api/members`, and adds its counters to
 * `/metrics`. Returns null (and logs why) when no `mesh.key` is configured: every mesh packet is
 * encrypted, and a key only this gateway knows would make a mesh of one.
 */
export async function startGatewayMesh(deps: GatewayMeshDeps): Promise<Mesh | null> {
  const c = deps.config;
  if (c.key === null) {
    deps.logger.info({ component: 'mesh' }, 'mesh off: set mesh.key (same base64 32-byte key on every gateway, e.g. `openssl rand -base64 32`) to join a mesh');
    return null;
  }
  const section = meshSection(c);
  const mesh = new Mesh({
    id: deps.id,
    section,
    meta: deps.meta(),
    metaSource: { read: deps.meta, intervalMs: deps.metaIntervalMs ?? 10_000 },
    ...(deps.clock ? { clock: deps.clock } : {}),
    logger: deps.logger,
    ...(deps.mdnsSocket ? { mdnsSocket: deps.mdnsSocket } : {}),
    ...(deps.mqttPort !== undefined ? { mdnsTxt: { mqtt: String(deps.mqttPort) } } : {}),
  });
  await mesh.start();
  deps.http.route('GET', '/api/members', () => ({ json: { self: deps.id, members: mesh.members() } }));
  deps.metrics.register(() => [...meshMetricFamilies(mesh.metrics()), discoveryFamily(mesh.discoveryState)]);
  return mesh;
}

/** Maps the uplink's state names (gateway/src/uplink) to the mesh metadata's. */
export function uplinkMetaState(state: string | undefined): MemberMeta['uplink'] {
  if (state === undefined || state === 'none') return 'none';
  if (state === 'online') return 'up';
  return 'down';
}

/**
 * Whether mDNS discovery runs: a gateway that could not start it (no multicast, or a package
 * that failed to load) still joins its static seeds, and only this gauge and one warning say so.
 */
export function discoveryFamily(state: 'off' | 'mdns' | 'seeds-only'): MetricFamily {
  return {
    name: 'fieldmesh_mesh_discovery',
    help: 'How this gateway finds mesh peers (1 for the current way): mdns, seeds-only (mDNS wanted but unavailable) or off.',
    type: 'gauge',
    samples: (['mdns', 'seeds-only', 'off'] as const).map((way) => ({ labels: { way }, value: way === state ? 1 : 0 })),
  };
}

export function meshMetricFamilies(m: MeshMetrics): MetricFamily[] {
  const counter = (name: string, help: string, value: number): MetricFamily => ({ name: `fieldmesh_mesh_${name}`, help, type: 'counter', samples: [{ value }] });
  return [
    counter('probes_total', 'Direct probes sent.', m.probes),
    counter('indirect_probes_total', 'Indirect probe requests sent.', m.indirectProbes),
    counter('probe_failures_total', 'Probes that ended in a suspicion.', m.probeFailures),
    counter('suspicions_total', 'Members this gateway started suspecting.', m.suspicions),
    counter('deaths_total', 'Members this gateway marked dead.', m.deaths),
    counter('refutations_total', 'Times this gateway refuted a suspicion about itself.', m.refutations),
    counter('push_pulls_total', 'Anti-entropy exchanges started.', m.pushPulls),
    counter('bytes_in_total', 'Mesh datagram bytes received.', m.bytesIn),
    counter('bytes_out_total', 'Mesh datagram bytes sent.', m.bytesOut),
    counter('packets_in_total', 'Mesh datagrams received.', m.packetsIn),
    counter('packets_out_total', 'Mesh datagrams sent.', m.packetsOut),
    {
      name: 'fieldmesh_mesh_dropped_total',
      help: 'Mesh datagrams or messages dropped, by reason.',
      type: 'counter',
      samples: Object.entries(m.dropped).map(([reason, value]) => ({ labels: { reason }, value })),
    },
    { name: 'fieldmesh_mesh_health_score', help: 'Lifeguard local health score (0 = healthy, 7 = worst).', type: 'gauge', samples: [{ value: m.healthScore }] },
    {
      name: 'fieldmesh_mesh_members',
      help: 'Known mesh members by state.',
      type: 'gauge',
      samples: Object.entries(m.members).map(([state, value]) => ({ labels: { state }, value })),
    },
  ];
}
