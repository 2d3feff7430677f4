import type { MetricFamily } from '../metrics/prometheus.js';
import type { RelayStatus } from './relay-node.js';

/** Listed at zero before they first happen, so a rate() over them is never empty. */
const PRE_AUTH_REASONS = ['too_many_connections', 'preauth_frame_too_large', 'hello_timeout', 'hello_refused'];

const ROUTE_STATES = ['direct', 'waiting', 'connecting', 'relaying', 'idle'] as const;

/** `/metrics` families of the relay and replication (RELAY.md §8). */
export function relayMetricFamilies(s: RelayStatus): MetricFamily[] {
  const counter = (name: string, help: string, value: number): MetricFamily => ({ name: `fieldmesh_relay_${name}`, help, type: 'counter', samples: [{ value }] });
  const gauge = (name: string, help: string, value: number): MetricFamily => ({ name: `fieldmesh_relay_${name}`, help, type: 'gauge', samples: [{ value }] });
  const out: MetricFamily[] = [
    {
      name: 'fieldmesh_relay_route_state',
      help: 'How our own data goes upstream (1 for the current state).',
      type: 'gauge',
      samples: ROUTE_STATES.map((state) => ({ labels: { state }, value: s.route.state === state ? 1 : 0 })),
    },
    counter('route_readings_acked_total', 'Our readings the cloud acked through a relay.', s.route.readingsAcked),
    counter('route_failovers_total', 'Relays given up (died, refused, timed out).', s.route.failovers),
    {
      name: 'fieldmesh_relay_refused_total',
      help: 'Connections, hellos and frames the relay port refused, by reason (too_many_connections, preauth_frame_too_large, hello_timeout, hello_refused, or the relay error code of a refused peer).',
      type: 'counter',
      samples: [...new Set([...PRE_AUTH_REASONS, ...Object.keys(s.refused)])].map((reason) => ({ labels: { reason }, value: s.refused[reason] ?? 0 })),
    },
  ];
  if (s.serving) {
    out.push(
      counter('served_batches_total', "Other gateways' batches forwarded upstream.", s.serving.batchesForwarded),
      counter('served_readings_total', "Other gateways' readings forwarded upstream.", s.serving.readingsForwarded),
      gauge('served_origins', 'Gateways whose data we carry now.', s.serving.origins.length),
    );
  }
  if (s.replication) {
    out.push(
      gauge('replication_lag_readings', 'Readings logged but neither replicated to a buddy nor acked upstream.', s.replication.lagReadings),
      gauge('replication_lag_seconds', 'Age of the oldest reading neither replicated nor acked.', s.replication.lagMs / 1000),
      gauge('replicated_seq', 'Highest seq a buddy has durably committed.', s.replication.replicatedSeq),
    );
  }
  if (s.replicas) {
    out.push(
      gauge('replica_batches', 'Replica batches held for other gateways.', s.replicas.origins.reduce((n, o) => n + o.batches, 0)),
      gauge('replica_bytes', 'Bytes of replicas held for other gateways.', s.replicas.origins.reduce((n, o) => n + o.bytes, 0)),
      counter('replica_uploaded_total', "Replica batches of dead gateways uploaded and acked.", s.replicas.batchesUploadAcked),
    );
  }
  return out;
}
