/**
 * Prometheus families of the Modbus master; the composition root registers them:
 * `metrics.register(modbusMetrics(modbus))`. Labelled by bus (`rtu:/dev/…` or `tcp:host:port`),
 * unit and device; errors also by reason (errors.ts MODBUS_FAULTS, stable names).
 */
import type { MetricFamily, Sample } from '../../metrics/prometheus.js';
import { MODBUS_FAULTS } from './errors.js';
import type { ModbusIngestStats } from './modbus-ingest.js';
import type { SlaveStats } from './slave-poller.js';

export function modbusMetrics(modbus: { stats(): ModbusIngestStats }): () => MetricFamily[] {
  return () => {
    const st = modbus.stats();
    const per = (f: (s: SlaveStats) => number): Sample[] => st.slaves.map((s) => ({ labels: { bus: s.bus, unit: String(s.unit), device: s.device }, value: f(s) }));
    return [
      { name: 'fieldmesh_modbus_bus_up', help: 'Whether the serial line or TCP connection is open (1) or being re-opened (0).', type: 'gauge', samples: st.buses.map((b) => ({ labels: { bus: b.name }, value: b.state === 'up' ? 1 : 0 })) },
      { name: 'fieldmesh_modbus_bus_lost_total', help: 'Times an open line or connection went away.', type: 'counter', samples: st.buses.map((b) => ({ labels: { bus: b.name }, value: b.lost })) },
      { name: 'fieldmesh_modbus_bus_queued', help: 'Transactions waiting for the bus.', type: 'gauge', samples: st.buses.map((b) => ({ labels: { bus: b.name }, value: b.queued })) },
      { name: 'fieldmesh_modbus_slave_online', help: 'Whether the slave answered its last poll (1) or is polled with backoff (0).', type: 'gauge', samples: per((s) => (s.state === 'offline' ? 0 : 1)) },
      { name: 'fieldmesh_modbus_polls_total', help: 'Polls made.', type: 'counter', samples: per((s) => s.polls) },
      { name: 'fieldmesh_modbus_polls_failed_total', help: 'Polls where every read failed.', type: 'counter', samples: per((s) => s.pollsFailed) },
      { name: 'fieldmesh_modbus_polls_skipped_total', help: 'Poll slots skipped because the previous poll was still running.', type: 'counter', samples: per((s) => s.pollsSkipped) },
      { name: 'fieldmesh_modbus_requests_total', help: 'Read requests sent (retries included).', type: 'counter', samples: per((s) => s.requests) },
      { name: 'fieldmesh_modbus_readings_total', help: 'Readings from the slave durably committed.', type: 'counter', samples: per((s) => s.readingsCommitted) },
      { name: 'fieldmesh_modbus_poll_late_max_seconds', help: 'Worst delay from a poll slot to the poll starting.', type: 'gauge', samples: per((s) => s.maxLateMs / 1000) },
      {
        name: 'fieldmesh_modbus_errors_total',
        help: 'Failed transactions by reason: timeout, crc, short_frame, late_frame, wrong_unit, wrong_function, bad_length, link_down, direction_failed, or the exception (illegal_address, device_busy, …).',
        type: 'counter',
        samples: st.slaves.flatMap((s) => MODBUS_FAULTS.map((reason) => ({ labels: { bus: s.bus, unit: String(s.unit), device: s.device, reason }, value: s.errors[reason] }))),
      },
      { name: 'fieldmesh_modbus_non_finite_total', help: 'NaN or infinite register values not stored.', type: 'counter', samples: per((s) => s.nonFinite) },
      { name: 'fieldmesh_modbus_writes_total', help: 'Writes by outcome.', type: 'counter', samples: (['ok', 'refused', 'failed'] as const).map((outcome) => ({ labels: { outcome }, value: st.writes[outcome] })) },
    ];
  };
}
