import type { Histogram, MetricFamily, Sample } from '@fieldmesh/device-sdk/metrics/prometheus';
import type { AlertReceiverStats } from '../bridge/alert-receiver.js';
import type { ReceiverStats } from '../bridge/batch-receiver.js';
import type { AccessStats } from '../broker/gateway-access.js';
import type { LiveHubStats } from '../live/live-hub.js';
import type { LiveServerStats } from '../live/live-server.js';
import type { CloudErrorCode } from '../errors.js';
import type { GatewayRecord } from '../store/cloud-store.js';
import { STORE_OPS } from '../store/timed-store.js';

/** What the cloud's `/metrics` reads at scrape time; every field a live object or a getter. */
export interface CloudMetricSources {
  receiver: ReceiverStats;
  alerts: AlertReceiverStats;
  status: () => { refused: number; throttled: number };
  /** Embedded broker only (behind an external broker, that broker sees connections): its ACL counters. */
  access?: AccessStats;
  /** Embedded broker only: connections its guards refused or closed, by reason, per listener (gateway broker, MQTT over WebSocket). */
  connectionRefusals?: () => { broker: Record<string, number>; mqttWs: Record<string, number> };
  /** HTTP requests refused before routing, by reason (http-access.ts: host, token, bad_request, timeout). */
  http?: () => Record<string, number>;
  /** Embedded broker only: gateways with a live broker connection. */
  connected?: () => number;
  /** Embedded broker only: fleet operations (fleet/FLEET-CLOUD.md). */
  fleet?: () => { reportedRefused: number; reportedThrottled: number; refusedHttp: Record<string, number>; published: number; bundleBytesSent: number; chunks?: { refused: Record<string, number>; bytesSent: number; chunksSent: number; inFlight: number } };
  live: () => { hub: LiveHubStats; server: LiveServerStats; alertsRefused: number; mqtt: { connected: number; authFailures: number; publishDenied: number; subscribeDenied: number } | null };
  storeLatency: Histogram;
}

/** Batch refusal codes listed at zero before they first happen (a rate() over a missing series is empty). */
const BATCH_CODES = ['FM_ERR_CLOUD_BATCH_SIGNATURE', 'FM_ERR_CLOUD_BATCH_CONFLICT', 'FM_ERR_CLOUD_BATCH_GATEWAY', 'FM_ERR_CLOUD_BAD_BATCH_SERIES', 'FM_ERR_CLOUD_STORE'] satisfies CloudErrorCode[];

const counter = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'counter', samples: [{ value }] });
const gauge = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'gauge', samples: [{ value }] });

/** The bridge-wide families (`fieldmesh_cloud_…`), from in-memory counters: no I/O. */
export function cloudMetrics(src: CloudMetricSources): () => MetricFamily[] {
  return () => {
    const r = src.receiver;
    const live = src.live();
    const status = src.status();
    const refused: Sample[] = [];
    const refuse = (kind: string, reason: string, value: number) => refused.push({ labels: { kind, reason }, value });
    for (const code of new Set([...BATCH_CODES, ...Object.keys(r.refusedByCode)])) refuse('batch', code, r.refusedByCode[code] ?? 0);
    if (src.access) {
      refuse('connection', 'auth', src.access.authFailures);
      // Also counted under auth: a login on a client id that is not the gateway's own.
      refuse('connection', 'client_id', src.access.clientIdRefused);
      refuse('publish', 'acl', src.access.publishDenied);
      refuse('subscribe', 'acl', src.access.subscribeDenied);
    }
    const guards = src.connectionRefusals?.();
    if (guards) {
      for (const [reason, n] of Object.entries(guards.broker)) refuse('connection', reason, n);
      for (const [reason, n] of Object.entries(guards.mqttWs)) refuse('live_mqtt_connection', reason, n);
    }
    for (const [reason, n] of Object.entries(src.http?.() ?? {})) refuse('http', reason, n);
    const fleet = src.fleet?.();
    if (fleet) {
      refuse('fleet_reported', 'malformed', fleet.reportedRefused);
      refuse('fleet_reported', 'throttled', fleet.reportedThrottled);
      for (const [reason, n] of Object.entries(fleet.refusedHttp)) refuse('fleet_http', reason, n);
      for (const [reason, n] of Object.entries(fleet.chunks?.refused ?? {})) refuse('fleet_bundle_chunk', reason, n);
    }
    refuse('status', 'malformed', status.refused);
    refuse('alerts', 'malformed', src.alerts.refused);
    refuse('alert', 'malformed', live.alertsRefused);
    refuse('live', 'token', live.server.refusedToken);
    refuse('live', 'filter', live.server.refusedFilter);
    refuse('live', 'full', live.server.refusedFull);
    if (live.mqtt) {
      refuse('live_mqtt', 'auth', live.mqtt.authFailures);
      refuse('live_mqtt', 'publish', live.mqtt.publishDenied);
      refuse('live_mqtt', 'subscribe', live.mqtt.subscribeDenied);
    }
    return [
      counter('fieldmesh_cloud_batches_received_total', 'Batches received from gateways (direct and relayed).', r.batchesReceived),
      counter('fieldmesh_cloud_batches_committed_total', 'Batches committed durably and acked.', r.batchesCommitted),
      counter('fieldmesh_cloud_batches_relayed_total', 'Batches that arrived through a relay gateway.', r.batchesRelayed),
      counter('fieldmesh_cloud_batches_dropped_total', 'Batches dropped unprocessed because the receive queue was full (not acked: the gateway resends).', r.batchesDropped),
      gauge('fieldmesh_cloud_batches_queued', 'Batches waiting for their commit.', r.queued),
      counter('fieldmesh_cloud_readings_committed_total', 'Readings newly stored.', r.readingsStored),
      counter('fieldmesh_cloud_readings_duplicate_total', 'Readings received again (a resent batch) and not stored twice.', r.readingsDuplicate),
      { name: 'fieldmesh_cloud_refused_total', help: 'Input refused, by kind (batch, connection, publish, subscribe, http, status, alerts, alert, live, live_mqtt, live_mqtt_connection, fleet_reported, fleet_http, fleet_bundle_chunk) and reason (an FM_ERR code for batches).', type: 'counter', samples: refused },
      counter('fieldmesh_cloud_status_throttled_total', 'Gateway status messages not stored because they came faster than one a second.', status.throttled),
      counter('fieldmesh_cloud_alert_events_stored_total', 'Alert events stored from the gateways\' priority lane.', src.alerts.stored),
      counter('fieldmesh_cloud_alert_events_duplicate_total', 'Alert events received again and not stored twice.', src.alerts.duplicates),
      ...(fleet
        ? [
            counter('fieldmesh_cloud_fleet_desired_published_total', 'Desired-state messages published to gateways (new serials, and republished at start).', fleet.published),
            counter('fieldmesh_cloud_fleet_bundle_bytes_sent_total', 'Release bundle bytes sent to downloads (ranges count what they carried).', fleet.bundleBytesSent),
            ...(fleet.chunks
              ? [
                  counter('fieldmesh_cloud_fleet_bundle_chunk_bytes_sent_total', 'Release bundle bytes sent over the uplink connection, in chunks (fleet/bundle/chunk).', fleet.chunks.bytesSent),
                  gauge('fieldmesh_cloud_fleet_bundle_chunks_in_flight', 'Bundle chunks read or sent and not yet acknowledged by their gateway.', fleet.chunks.inFlight),
                ]
              : []),
          ]
        : []),
      ...(src.connected ? [gauge('fieldmesh_cloud_gateways_connected', 'Gateways with a live connection to the broker.', src.connected())] : []),
      gauge('fieldmesh_cloud_live_subscribers', 'Connected live subscribers (WebSocket /live).', live.server.subscribers),
      ...(live.mqtt ? [gauge('fieldmesh_cloud_live_mqtt_subscribers', 'Connected MQTT-over-WebSocket live clients.', live.mqtt.connected)] : []),
      counter('fieldmesh_cloud_live_accepted_total', 'Live subscribers accepted.', live.server.accepted),
      counter('fieldmesh_cloud_live_cut_off_total', 'Live subscribers cut off for not reading, or for not answering pings.', live.server.cutOff + live.server.deadDropped),
      {
        name: 'fieldmesh_cloud_live_events_total',
        help: 'Events fanned out to live subscribers, by kind.',
        type: 'counter',
        samples: [
          { labels: { kind: 'readings' }, value: live.hub.readingEvents },
          { labels: { kind: 'status' }, value: live.hub.statusEvents },
          { labels: { kind: 'alert' }, value: live.hub.alertEvents },
        ],
      },
      src.storeLatency.family(STORE_OPS),
    ];
  };
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * Per-gateway families, from the store's gateway list (read once per scrape). Backlog, lag,
 * drain rate and ETA are the gateway's own figures from its last status message: the cloud
 * cannot see what a gateway has not sent yet.
 */
export function gatewayMetrics(gateways: readonly GatewayRecord[], nowMs: number, openAlerts: ReadonlyMap<string, number>): MetricFamily[] {
  const per = (name: string, help: string, type: 'gauge' | 'counter', value: (g: GatewayRecord) => number | null): MetricFamily => ({
    name,
    help,
    type,
    samples: gateways.flatMap((g) => {
      const v = value(g);
      return v === null ? [] : [{ labels: { gateway: g.id }, value: v }];
    }),
  });
  return [
    per('fieldmesh_cloud_gateway_online', 'Whether the gateway is online (1) or not (0).', 'gauge', (g) => (g.online ? 1 : 0)),
    per('fieldmesh_cloud_gateway_last_contact_age_seconds', 'Time since the last batch, status or connect of the gateway, seconds.', 'gauge', (g) => (g.lastContact === null ? null : Math.max(0, (nowMs - g.lastContact) / 1000))),
    per('fieldmesh_cloud_gateway_lag_seconds', 'Age of the oldest reading the gateway has not yet delivered, as it last reported, seconds (0: caught up).', 'gauge', (g) => {
      const ms = num(g.status?.oldestUnsentAgeMs);
      return g.status && 'oldestUnsentAgeMs' in g.status ? (ms === null ? 0 : ms / 1000) : null;
    }),
    per('fieldmesh_cloud_gateway_backlog_readings', 'Readings the gateway holds that the cloud has not acked, as it last reported.', 'gauge', (g) => g.reportedBacklog),
    per('fieldmesh_cloud_gateway_drain_readings_per_second', 'Readings per second the gateway\'s backlog drains at, as it last reported.', 'gauge', (g) => num(g.status?.drainRate)),
    per('fieldmesh_cloud_gateway_backlog_eta_seconds', 'Seconds to drain the backlog at the reported drain rate; -1 while nothing drains.', 'gauge', (g) => (g.status && 'etaSeconds' in g.status ? (num(g.status.etaSeconds) ?? -1) : null)),
    per('fieldmesh_cloud_gateway_acked_seq', 'Highest sequence number committed for the gateway\'s current epoch.', 'gauge', (g) => g.ackedSeq),
    per('fieldmesh_cloud_gateway_readings_total', 'Readings stored from the gateway, all epochs.', 'counter', (g) => g.readings),
    per('fieldmesh_cloud_gateway_alerts_open', 'Alerts raised by the gateway and not cleared.', 'gauge', (g) => openAlerts.get(g.id) ?? 0),
  ];
}
