import { REJECT_REASONS } from './ingest/errors.js';
import type { IngestStats } from './ingest/stats.js';
import type { ReadingLog } from './store/reading-log.js';
import type { MetricFamily } from './metrics/prometheus.js';

/**
 * What `/metrics` needs from the uplink; `Uplink.stats()` satisfies it. The composition root
 * passes a source, or none while no uplink is configured (store and forward).
 */
export interface UplinkStatsView {
  state: string;
  batchesSent: number;
  batchesAcked: number;
  batchesRefused?: number;
  batchesQuarantined?: number;
  readingsAcked?: number;
  bytesSent?: number;
  inFlight?: number;
  connects?: number;
}

/** States `fieldmesh_uplink_state` always lists, so a dashboard query never misses a series. */
const UPLINK_STATES = ['none', 'stopped', 'connecting', 'online', 'waiting'];

export function gatewayMetrics(src: {
  stats: IngestStats;
  log: ReadingLog;
  uplink?: (() => UplinkStatsView) | undefined;
  now: () => number;
}): () => MetricFamily[] {
  return () => {
    const s = src.stats;
    const backlog = src.log.backlog();
    const up = src.uplink?.();
    const state = up?.state ?? 'none';
    const states = UPLINK_STATES.includes(state) ? UPLINK_STATES : [...UPLINK_STATES, state];
    const families: MetricFamily[] = [
      { name: 'fieldmesh_readings_ingested_total', help: 'Readings durably committed to the reading log.', type: 'counter', samples: [{ value: s.ingested }] },
      { name: 'fieldmesh_ingest_commits_total', help: 'Group-commit transactions.', type: 'counter', samples: [{ value: s.commits }] },
      { name: 'fieldmesh_ingest_duplicates_total', help: 'Messages acknowledged but not stored again (same device fm_seq, or a QoS 2 resend before PUBREL).', type: 'counter', samples: [{ value: s.duplicates }] },
      {
        name: 'fieldmesh_ingest_rejected_total',
        help: 'Input refused, by reason (gateway/src/ingest/INGEST.md).',
        type: 'counter',
        samples: Object.keys(REJECT_REASONS).map((reason) => ({ labels: { reason }, value: s.rejected.get(reason as keyof typeof REJECT_REASONS) ?? 0 })),
      },
      { name: 'fieldmesh_broker_connections', help: 'Open MQTT connections from devices.', type: 'gauge', samples: [{ value: s.connections }] },
      { name: 'fieldmesh_log_last_seq', help: 'Highest sequence number in the reading log.', type: 'gauge', samples: [{ value: src.log.lastSeq() }] },
      { name: 'fieldmesh_ack_watermark', help: 'Highest sequence number the cloud durably committed.', type: 'gauge', samples: [{ value: src.log.ackWatermark() }] },
      { name: 'fieldmesh_backlog_readings', help: 'Readings not yet acknowledged by the cloud.', type: 'gauge', samples: [{ value: backlog.readings }] },
      { name: 'fieldmesh_backlog_bytes', help: 'Approximate bytes of the unsent readings in the log.', type: 'gauge', samples: [{ value: backlog.bytes }] },
      {
        name: 'fieldmesh_oldest_unsent_age_seconds',
        help: 'Age of the oldest reading not yet acknowledged by the cloud (0 when none).',
        type: 'gauge',
        samples: [{ value: backlog.oldestUnsentTs === null ? 0 : Math.max(0, (src.now() - backlog.oldestUnsentTs) / 1000) }],
      },
      {
        name: 'fieldmesh_uplink_state',
        help: 'Uplink state: 1 for the current one (none = no uplink configured).',
        type: 'gauge',
        samples: states.map((st) => ({ labels: { state: st }, value: st === state ? 1 : 0 })),
      },
      { name: 'fieldmesh_uplink_batches_sent_total', help: 'Batches published to the cloud.', type: 'counter', samples: [{ value: up?.batchesSent ?? 0 }] },
      { name: 'fieldmesh_uplink_batches_acked_total', help: 'Batches the cloud acknowledged after a durable commit.', type: 'counter', samples: [{ value: up?.batchesAcked ?? 0 }] },
    ];
    const q = src.log.quarantined?.();
    if (q) {
      families.push({ name: 'fieldmesh_quarantined_batches_total', help: 'Batches given up on after repeated cloud refusals.', type: 'counter', samples: [{ value: q.batches }] });
      families.push({ name: 'fieldmesh_quarantined_readings_total', help: 'Readings in quarantined batches.', type: 'counter', samples: [{ value: q.readings }] });
    }
    return families;
  };
}
