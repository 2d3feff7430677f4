import type { DropReason } from './seal.js';

/** Why an incoming datagram or message was dropped (each counted separately). */
export type MeshDropReason = DropReason | 'wrong-target' | 'not-running';

/** Counters of one mesh member; monotonic except the gauges at the end. */
export interface MeshMetrics {
  probes: number;
  indirectProbes: number;
  probeFailures: number;
  nacksSent: number;
  nacksReceived: number;
  suspicions: number;
  deaths: number;
  refutations: number;
  pushPulls: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  dropped: Record<MeshDropReason, number>;
  /** Decisions postponed because our own event loop was found stalled. */
  stallDeferrals: number;
  /** Gauges. */
  healthScore: number;
  members: { alive: number; suspect: number; dead: number; left: number };
}

export function emptyMetrics(): MeshMetrics {
  return {
    probes: 0,
    indirectProbes: 0,
    probeFailures: 0,
    nacksSent: 0,
    nacksReceived: 0,
    suspicions: 0,
    deaths: 0,
    refutations: 0,
    pushPulls: 0,
    packetsIn: 0,
    packetsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    dropped: { malformed: 0, auth: 0, replay: 0, stale: 0, version: 0, reflected: 0, 'wrong-target': 0, 'not-running': 0 },
    stallDeferrals: 0,
    healthScore: 0,
    members: { alive: 0, suspect: 0, dead: 0, left: 0 },
  };
}

/** Prometheus text for one member's metrics (names prefixed fieldmesh_mesh_). */
export function metricsToPrometheus(m: MeshMetrics): string {
  const lines: string[] = [];
  const counter = (name: string, help: string, value: number, labels = '') => {
    lines.push(`# HELP fieldmesh_mesh_${name} ${help}`, `# TYPE fieldmesh_mesh_${name} counter`, `fieldmesh_mesh_${name}${labels} ${value}`);
  };
  counter('probes_total', 'Direct probes sent.', m.probes);
  counter('indirect_probes_total', 'Indirect probe requests sent.', m.indirectProbes);
  counter('probe_failures_total', 'Probes that ended in a suspicion.', m.probeFailures);
  counter('suspicions_total', 'Members this member started suspecting.', m.suspicions);
  counter('deaths_total', 'Members this member marked dead.', m.deaths);
  counter('refutations_total', 'Times this member refuted a suspicion or death about itself.', m.refutations);
  counter('push_pulls_total', 'Anti-entropy exchanges started.', m.pushPulls);
  counter('bytes_in_total', 'Datagram bytes received.', m.bytesIn);
  counter('bytes_out_total', 'Datagram bytes sent.', m.bytesOut);
  counter('packets_in_total', 'Datagrams received.', m.packetsIn);
  counter('packets_out_total', 'Datagrams sent.', m.packetsOut);
  lines.push('# HELP fieldmesh_mesh_dropped_total Datagrams or messages dropped, by reason.', '# TYPE fieldmesh_mesh_dropped_total counter');
  for (const [reason, n] of Object.entries(m.dropped)) lines.push(`fieldmesh_mesh_dropped_total{reason="${reason}"} ${n}`);
  lines.push('# HELP fieldmesh_mesh_health_score Lifeguard local health score (0 healthy).', '# TYPE fieldmesh_mesh_health_score gauge');
  lines.push(`fieldmesh_mesh_health_score ${m.healthScore}`);
  lines.push('# HELP fieldmesh_mesh_members Known members by state.', '# TYPE fieldmesh_mesh_members gauge');
  for (const [state, n] of Object.entries(m.members)) lines.push(`fieldmesh_mesh_members{state="${state}"} ${n}`);
  return lines.join('\n') + '\n';
}
