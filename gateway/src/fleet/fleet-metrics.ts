import { REFUSAL_REASONS, type RefusalReason } from '@fieldmesh/protocol';
import type { MetricFamily } from '../metrics/prometheus.js';

/** Counts of the fleet agent for /metrics: every refusal by reason, bundle bytes moved, switches. */
export class FleetCounters {
  readonly refused = new Map<RefusalReason, number>(REFUSAL_REASONS.map((r) => [r, 0]));
  downloadedBytes = 0;
  switches = 0;
  /** Desired-state messages that were not one (oversized, not JSON, another gateway's). */
  malformedDesired = 0;

  refuse(reason: RefusalReason): void {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
  }

  families(): MetricFamily[] {
    return [
      {
        name: 'fieldmesh_fleet_refused_total',
        help: 'Releases, config revisions and rollback orders the fleet agent refused, by reason (a refusal reported again after a reconnect counts once).',
        type: 'counter',
        samples: [...this.refused].map(([reason, value]) => ({ labels: { reason }, value })),
      },
      { name: 'fieldmesh_fleet_download_bytes_total', help: 'Release bundle bytes downloaded (a resumed download counts only what moved).', type: 'counter', samples: [{ value: this.downloadedBytes }] },
      { name: 'fieldmesh_fleet_switches_total', help: 'Switches to a new release or config revision (each followed by a restart).', type: 'counter', samples: [{ value: this.switches }] },
    ];
  }
}
