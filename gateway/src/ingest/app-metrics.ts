import type { MetricFamily } from '../metrics/prometheus.js';
import type { IngestBroker } from './broker.js';

/** Local apps on the broker (INGEST.md §Apps); refusals are in fieldmesh_ingest_rejected_total. */
export function appMetrics(broker: IngestBroker): () => MetricFamily[] {
  return () => [
    { name: 'fieldmesh_apps_connected', help: 'Local apps (app:<id>) connected to the broker.', type: 'gauge', samples: [{ value: broker.appStats.connected }] },
    { name: 'fieldmesh_app_messages_total', help: 'fm/r/<series> messages published to local apps.', type: 'counter', samples: [{ value: broker.feed.published }] },
    { name: 'fieldmesh_apps_cut_slow_total', help: 'Apps disconnected because they stopped reading.', type: 'counter', samples: [{ value: broker.appStats.cutSlow }] },
  ];
}
