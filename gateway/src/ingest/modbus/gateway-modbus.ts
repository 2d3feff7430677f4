/**
 * How the gateway's composition root plugs the Modbus master in: one call builds and starts it
 * from the `modbus:` section, into the shared ingest sink, and registers its metrics, its HTTP
 * route and its rule actions.
 */
import { systemClock, type Clock, type Logger } from '@fieldmesh/device-sdk';
import type { AlertEvent } from '../../alerts/event.js';
import type { ModbusConfig } from '../../config/modbus.js';
import type { HttpApi } from '../../http/server.js';
import type { MetricFamily } from '../../metrics/prometheus.js';
import type { IngestSink } from '../sink.js';
import { registerModbusRoutes } from './http-routes.js';
import { modbusMetrics } from './metrics.js';
import { ModbusIngest } from './modbus-ingest.js';
import { modbusRuleActions } from './rule-actions.js';

export interface GatewayModbusParts {
  config: Readonly<ModbusConfig>;
  sink: IngestSink;
  http: HttpApi;
  metrics: { register(source: () => MetricFamily[]): void };
  alerts: { onEvent(listener: (e: AlertEvent) => void): unknown };
  clock: Clock;
  logger: Logger;
  /** The device broker: apps with `--write` rights write through `fm/w/<device>/<sensor>` (INGEST.md §Apps). */
  broker?: { appWriter: ((series: string, value: number | boolean | string) => Promise<void>) | null };
}

export function startGatewayModbus(p: GatewayModbusParts): ModbusIngest {
  // Sub-millisecond gap timing only on the real clock; a test's ManualClock drives timers itself.
  const modbus = new ModbusIngest({ config: p.config, sink: p.sink, clock: p.clock, preciseTiming: p.clock === systemClock, logger: p.logger });
  modbus.start();
  p.metrics.register(modbusMetrics(modbus));
  registerModbusRoutes(p.http, () => modbus);
  if (p.broker) {
    p.broker.appWriter = (series, value) => {
      const slash = series.indexOf('/');
      return modbus.write(series.slice(0, slash), series.slice(slash + 1), value);
    };
  }
  if (p.config.actions.length > 0) p.alerts.onEvent(modbusRuleActions(modbus, p.config.actions, p.clock, p.logger));
  return modbus;
}
