import { buildInfoMetric, processMetrics } from '@fieldmesh/device-sdk/metrics/process-metrics';
import { HttpError } from './http/errors.js';
import type { HttpApi } from './http/server.js';
import { PROMETHEUS_CONTENT_TYPE, type MetricsRegistry } from './metrics/prometheus.js';
import { GATEWAY_VERSION } from './version.js';

/**
 * The gateway's own HTTP endpoints: /healthz for supervisors, /metrics (with the process and
 * build metrics every fieldmesh component exports) and /api/status. Components register their
 * routes themselves; these are the ones about the gateway as a whole.
 */
export function registerGatewayRoutes(
  http: HttpApi,
  metrics: MetricsRegistry,
  gateway: { id: string; healthy: () => boolean; status: () => Record<string, unknown> },
): void {
  http.route('GET', '/healthz', () => {
    if (!gateway.healthy()) throw new HttpError(503, 'FM_ERR_HTTP_INTERNAL', 'gateway not running');
    return { json: { ok: true, id: gateway.id } };
  });
  metrics.register(buildInfoMetric({ component: 'gateway', version: GATEWAY_VERSION }));
  metrics.register(processMetrics());
  metrics.register(() => [
    { name: 'fieldmesh_http_refused_total', help: 'HTTP requests refused before routing, by reason (host: a Host this gateway does not answer to).', type: 'counter', samples: [{ labels: { reason: 'host' }, value: http.refusedHost }] },
  ]);
  http.route('GET', '/metrics', () => ({ text: metrics.render(), contentType: PROMETHEUS_CONTENT_TYPE }));
  http.route('GET', '/api/status', () => ({ json: gateway.status() }));
}
