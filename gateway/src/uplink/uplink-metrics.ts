import type { MetricFamily } from '../metrics/prometheus.js';
import type { UplinkStats } from './uplink.js';

/**
 * The drain and lane figures of the uplink for `/metrics` (the base uplink counters are in
 * gateway/src/gateway-metrics.ts). The ETA is -1 while nothing drains and a backlog waits
 * (Prometheus has no null), 0 when there is no backlog.
 */
export function uplinkDrainMetrics(stats: () => UplinkStats): () => MetricFamily[] {
  return () => {
    const s = stats();
    const g = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'gauge', samples: [{ value }] });
    const c = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'counter', samples: [{ value }] });
    return [
      g('fieldmesh_uplink_drain_readings_per_second', 'Readings acked by the cloud per second over the last 30 s.', s.drainRate),
      g('fieldmesh_uplink_backlog_eta_seconds', 'Seconds to drain the backlog at the current drain rate; -1 while nothing drains.', s.etaSeconds ?? -1),
      g('fieldmesh_uplink_send_window_batches', 'Adaptive send window (AIMD), batches in flight at most.', s.sendWindow),
      c('fieldmesh_uplink_window_decreases_total', 'Halvings of the send window (ack timeout, nack, reconnect).', s.windowDecreases),
      c('fieldmesh_uplink_readings_compacted_total', 'Older values of state series not sent (compaction).', s.readingsCompacted),
      c('fieldmesh_uplink_alerts_acked_total', 'Alert events the cloud acknowledged (priority lane).', s.alertsAcked),
      g('fieldmesh_uplink_alerts_pending', 'Alert events waiting to go upstream.', s.alertsPending),
      c('fieldmesh_uplink_alerts_skipped_total', 'Alert events given up after repeated cloud refusals.', s.alertsSkipped),
    ];
  };
}
