/**
 * Prometheus families for serial ingest; the composition root registers them:
 * `metrics.register(serialMetrics(serial))`. Labelled by port path (stable by-id names make
 * stable series), device and profile.
 */
import type { MetricFamily, Sample } from '../../metrics/prometheus.js';
import type { RejectReason } from '@fieldmesh/hardware/sensors';
import type { SerialIngestStats } from './serial-ingest.js';
import type { SerialPortStats } from './port-reader.js';

const REASONS: RejectReason[] = ['checksum', 'noise', 'oversized', 'malformed'];

export function serialMetrics(serial: { stats(): SerialIngestStats }): () => MetricFamily[] {
  return () => {
    const ports = serial.stats().ports;
    const per = (f: (p: SerialPortStats) => number): Sample[] => ports.map((p) => ({ labels: { port: p.path, device: p.device }, value: f(p) }));
    return [
      { name: 'fieldmesh_serial_port_open', help: 'Whether the serial port is open (1) or being retried (0).', type: 'gauge', samples: ports.map((p) => ({ labels: { port: p.path, device: p.device, profile: p.profile }, value: p.state === 'open' ? 1 : 0 })) },
      { name: 'fieldmesh_serial_bytes_total', help: 'Bytes read from the serial port.', type: 'counter', samples: per((p) => p.bytes) },
      { name: 'fieldmesh_serial_messages_total', help: 'Messages (lines, sentences, frames) the sensor profile accepted.', type: 'counter', samples: per((p) => p.parser.frames) },
      { name: 'fieldmesh_serial_readings_total', help: 'Readings from the serial port durably committed.', type: 'counter', samples: per((p) => p.readingsCommitted) },
      {
        name: 'fieldmesh_serial_rejected_total',
        help: 'Messages thrown away, by reason (hardware/src/sensors/PROFILES.md); noise usually means a baud-rate mismatch.',
        type: 'counter',
        samples: ports.flatMap((p) => REASONS.map((reason) => ({ labels: { port: p.path, device: p.device, reason }, value: p.parser.rejects[reason] }))),
      },
      { name: 'fieldmesh_serial_port_lost_total', help: 'Times an open serial port went away.', type: 'counter', samples: per((p) => p.lost) },
      { name: 'fieldmesh_serial_open_failures_total', help: 'Failed attempts to open the serial port (missing, busy, no access).', type: 'counter', samples: per((p) => p.openFailures) },
      { name: 'fieldmesh_serial_submit_failed_total', help: 'Batches of serial readings the store refused.', type: 'counter', samples: per((p) => p.submitFailed) },
    ];
  };
}
