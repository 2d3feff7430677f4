import type { Clock } from '@fieldmesh/device-sdk';
import { buildInfoMetric, processMetrics } from '@fieldmesh/device-sdk/metrics/process-metrics';
import { MetricsRegistry, renderPrometheus } from '@fieldmesh/device-sdk/metrics/prometheus';
import type { SqliteAlertStore } from '../bridge/alert-store.js';
import type { LiveService } from '../live/live-service.js';
import type { CloudStore } from '../store/cloud-store.js';
import type { TimedStore } from '../store/timed-store.js';
import { CLOUD_BRIDGE_VERSION } from '../version.js';
import { cloudMetrics, gatewayMetrics, type CloudMetricSources } from './cloud-metrics.js';
import type { CloudHttpApi } from './http-api.js';

type HttpExtras = ConstructorParameters<typeof CloudHttpApi>[2];

/**
 * `/metrics` and the alert routes of a bridge, wired the same for both composition roots
 * (embedded broker and external broker). Acknowledgements are streamed to live subscribers as
 * an alert event of type `acknowledged`, so every open dashboard shows them.
 */
export function cloudObservability(o: {
  store: CloudStore;
  timed: TimedStore;
  alerts: SqliteAlertStore;
  live: LiveService;
  clock: Clock;
  sources: Omit<CloudMetricSources, 'storeLatency' | 'live'>;
}): Pick<HttpExtras, 'prometheus' | 'alerts'> {
  const registry = new MetricsRegistry();
  registry.register(buildInfoMetric({ component: 'cloud-bridge', version: CLOUD_BRIDGE_VERSION }));
  registry.register(processMetrics());
  registry.register(
    cloudMetrics({
      ...o.sources,
      storeLatency: o.timed.latency,
      live: () => ({ hub: o.live.hub.stats, server: o.live.server.stats, alertsRefused: o.live.alertsRefused, mqtt: (o.live.metrics().mqtt ?? null) as ReturnType<CloudMetricSources['live']>['mqtt'] }),
    }),
  );
  return {
    prometheus: async () => renderPrometheus([...registry.collect(), ...gatewayMetrics(await o.store.gateways(), o.clock.now(), o.alerts.openCounts())]),
    alerts: {
      book: o.alerts,
      who: (token) => o.live.tokens.identify(token),
      now: () => o.clock.now(),
      acknowledged: (ref, ack) => o.live.alert(ref.gateway, { v: 1, type: 'acknowledged', gateway: ref.gateway, epoch: ref.epoch, alertId: ref.alertId, by: ack.by, at: ack.at }),
    },
  };
}
