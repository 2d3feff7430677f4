import { IDENTIFIER_RULE } from '@fieldmesh/protocol';
import { gatewayDefaults } from '../../config/gateway-config.js';
import { fleetDefaults } from '../../config/fleet.js';
import type { TemplateKey } from './config-template.js';

const d = gatewayDefaults;
const DAY = 86_400_000;
/** A duration in the rollups section's own notation (`14d`, `5s`, `10m`). */
function duration(ms: number): string {
  for (const [unit, size] of [['d', DAY], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms % size === 0 && ms >= size) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/**
 * The gateway config `fieldmesh init gateway` writes. Values come from the defaults object the
 * loader uses (gateway/src/config/*.ts), so the file cannot disagree with the code; only the
 * id and the mesh key are chosen for this gateway.
 */
export function gatewayTemplate(opts: { id: string; meshKey: string; uplinkUrl?: string }): TemplateKey[] {
  return [
    { key: 'id', why: `Names this gateway upstream (fm/g/<id>/…), in the mesh and at the cloud (cloud add-gateway <id>): ${IDENTIFIER_RULE}. Default: from the host name.`, value: opts.id },
    { key: 'dataDir', why: 'Reading log (SQLite), device credentials, replicas. Relative to this file. Put it on the disk that survives reflashing.', value: d.dataDir },
    { key: 'logLevel', why: 'trace, debug, info, warn, error, fatal or silent. Changed by SIGHUP without a restart.', value: d.logLevel },
    {
      key: 'broker',
      why: 'The MQTT broker devices publish to (gateway/src/ingest/INGEST.md).',
      keys: [
        { key: 'port', why: 'IANA MQTT port; 0 = any free port (printed at start).', value: d.broker.port },
        { key: 'host', why: 'Devices are on the LAN; 127.0.0.1 keeps it to this machine.', value: d.broker.host },
        { key: 'auth', why: 'credentials: each device logs in with its id and a password (fieldmesh gateway add-device). none: a lab only.', value: d.broker.auth },
        { key: 'devices', why: 'Device ids to create credentials for at start (printed once). Or add them later: fieldmesh gateway add-device ID --config THIS_FILE.', value: d.broker.devices },
        { key: 'maxPacketBytes', why: 'One SenML pack at its 256 KiB limit plus headers; larger declared packets close the connection before anything is buffered.', value: d.broker.maxPacketBytes },
        { key: 'connectTimeoutMs', why: 'A new connection that sends no CONNECT this long is closed (frees the slot).', value: d.broker.connectTimeoutMs },
        { key: 'packetTimeoutMs', why: 'One packet may take this long from first to last byte (a full packet at 5 kB/s); 0 = no limit.', value: d.broker.packetTimeoutMs },
        { key: 'maxConnections', why: 'Concurrent device connections; within a Raspberry Pi\'s file limits.', value: d.broker.maxConnections },
        { key: 'maxAppQueueBytes', why: 'Bytes waiting for a slow local app (fieldmesh gateway add-app) before it is cut off: it would only grow memory.', value: d.broker.maxAppQueueBytes },
      ],
    },
    {
      key: 'http',
      why: 'Local HTTP API and metrics (/healthz, /metrics, /api/…: gateway/src/http/HTTP.md). It has no auth.',
      keys: [
        { key: 'port', why: '0 = any free port.', value: d.http.port },
        { key: 'host', why: 'Loopback because the API has no auth; 0.0.0.0 exposes it (e.g. to Prometheus).', value: d.http.host },
        { key: 'allowedHosts', why: 'Host names answered besides IPs, localhost and this machine; others get 421, which stops DNS rebinding.', value: d.http.allowedHosts },
      ],
    },
    {
      key: 'ingest',
      why: 'Group commit: devices get PUBACK only after the readings are committed.',
      keys: [
        { key: 'commitIntervalMs', why: '0 = commit on the next event-loop turn; batches still grow with load. Higher: fewer commits, later PUBACKs.', value: d.ingest.commitIntervalMs },
        { key: 'maxBatchReadings', why: 'A batch this large commits at once.', value: d.ingest.maxBatchReadings },
        { key: 'rejectLogIntervalMs', why: 'At most one log line per device per interval about refused input (all of it is counted in metrics).', value: d.ingest.rejectLogIntervalMs },
        { key: 'commitThread', why: 'Commit on a worker thread; worth it on slow storage (SD cards), not on fast disks.', value: d.ingest.commitThread },
      ],
    },
    {
      key: 'mesh',
      why: 'Gossip membership with the other gateways of this site (gateway/src/mesh/README.md). Off without a key.',
      keys: [
        { key: 'port', why: 'UDP port for gossip (as memberlist); 0 = any free port.', value: d.mesh.port },
        { key: 'mdns', why: 'Find seed peers by mDNS (_fieldmesh._udp); turn off where multicast is blocked and list seeds.', value: d.mesh.mdns },
        { key: 'seeds', why: 'Static peers "host:port", for networks without multicast.', value: d.mesh.seeds },
        { key: 'key', why: 'Cluster key (base64 of 32 bytes, AES-256-GCM): the SAME on every gateway of the mesh. Generated for you; copy it, do not regenerate.', value: opts.meshKey },
        { key: 'keys', why: 'Older keys still accepted during a key rotation.', value: d.mesh.keys },
        { key: 'label', why: 'Meshes with different labels never mix, even with the same key.', value: d.mesh.label },
        { key: 'preset', why: 'Probe and suspicion timing: lan (a site network), wan (slow links), local (one machine).', value: d.mesh.preset },
        { key: 'tuning', why: 'Overrides of single timing fields of the preset, e.g. { probeIntervalMs: 500 } (gateway/src/mesh/config.ts documents each).', value: d.mesh.tuning },
        { key: 'bind', why: 'Address the UDP socket binds.', value: d.mesh.bind },
        { key: 'advertise', why: '"ip:port" peers should use when the bound one is not reachable as is (NAT); null = the bound one.', value: d.mesh.advertise },
      ],
    },
    {
      key: 'relay',
      why: 'Delivery through a peer while the uplink is down, and backlog copies at a buddy (gateway/src/relay/RELAY.md). Needs mesh.key.',
      keys: [
        { key: 'enabled', why: 'Relay through peers and carry theirs.', value: d.relay.enabled },
        { key: 'port', why: 'Relay TCP port; 0 = any free port, announced to peers by gossip. Fix it for a firewall.', value: d.relay.port },
        { key: 'host', why: 'Address the relay listens on.', value: d.relay.host },
        { key: 'afterMs', why: 'Uplink down this long before relaying: a brief reconnect is not worth a detour.', value: d.relay.afterMs },
        { key: 'window', why: 'Our batches in flight through a relay.', value: d.relay.window },
        { key: 'batchReadings', why: 'Readings per relayed batch at most.', value: d.relay.batchReadings },
        { key: 'ackTimeoutMs', why: 'No ack through a relay this long: try another.', value: d.relay.ackTimeoutMs },
        { key: 'serveWindow', why: 'Peers\' batches in flight upstream at once; our own data keeps most of the link.', value: d.relay.serveWindow },
        { key: 'maxOrigins', why: 'Peers carried at once.', value: d.relay.maxOrigins },
        { key: 'replicas', why: 'Buddies keeping a copy of our unacknowledged tail; 0 = none.', value: d.relay.replicas },
        { key: 'recentReadings', why: 'Freshest readings kept in memory to feed buddies without reading the log back; 0 = none (small boards).', value: d.relay.recentReadings },
        { key: 'deadAfterMs', why: 'A peer gone this long has its replica uploaded by its buddy: longer than a reboot.', value: d.relay.deadAfterMs },
      ],
    },
    {
      key: 'serial',
      why: 'Serial lines and the device each stands for (gateway/src/ingest/serial/SERIAL.md, hardware/src/sensors/PROFILES.md).',
      example: true,
      items: [
        [
          { key: 'path', why: 'The serial device.', value: '/dev/ttyUSB0' },
          { key: 'baud', why: 'Line speed (9600 is the default).', value: 9600 },
          { key: 'profile', why: 'nmea0183, pms5003, mhz19, fm-frame, …', value: 'nmea0183' },
          { key: 'device', why: 'Device id its readings are stored under.', value: 'gps-1' },
        ],
      ],
    },
    {
      key: 'modbus',
      why: 'Modbus RTU lines and TCP endpoints polled into readings (gateway/src/config/modbus.ts; device templates in hardware/modbus/).',
      keys: [
        { key: 'writes', why: 'Allow writes to registers marked writable (rule actions, POST /api/modbus/write); off so a read-only setup cannot change a device.', value: d.modbus.writes },
        { key: 'rtu', why: 'RS-485 lines: [{ path, baud, parity, slaves: [{ unit, device, template or registers }] }].', value: d.modbus.rtu },
        { key: 'tcp', why: 'Modbus TCP endpoints: [{ host, port, slaves: [...] }].', value: d.modbus.tcp },
        { key: 'actions', why: 'Register writes a rule\'s alert triggers (needs writes: true); see gateway/src/config/modbus.ts.', value: d.modbus.actions },
      ],
    },
    {
      key: 'uplink',
      why: 'The cloud to deliver to (gateway/src/uplink/UPLINK.md). Without it: store and forward once one is set.',
      example: opts.uplinkUrl === undefined,
      keys: [
        { key: 'url', why: 'mqtt://host:1884, or mqtts:// for TLS.', value: opts.uplinkUrl ?? 'mqtt://cloud.example:1884' },
        { key: 'username', why: 'Default: the gateway id.', value: opts.id },
        { key: 'password', why: 'From `fieldmesh cloud add-gateway <id>`; here from the environment, not the file.', value: '${FM_UPLINK_PASSWORD}' },
        { key: 'ca', why: 'PEM of the CA that signed the cloud broker (mqtts only); null = the system CAs.', value: null },
        { key: 'cert', why: 'PEM client certificate for mTLS (CN = gateway id); needs key.', value: null },
        { key: 'key', why: 'PEM key of the client certificate; needs cert.', value: null },
        { key: 'maxBytesPerSecond', why: 'Cap for metered links; 0 = no cap.', value: 0 },
        { key: 'maxInFlight', why: 'Ceiling of the adaptive send window, in batches.', value: 16 },
        { key: 'stateSeries', why: 'Series ("device/sensor", * = one level) where only the newest unsent value matters.', value: [] },
        { key: 'signingKey', why: 'The key batches are signed with, printed by `fieldmesh cloud add-gateway <id>` (the cloud stores only what its origin signed); null = <dataDir>/origin-key.json.', value: '${FM_UPLINK_SIGNING_KEY}' },
      ],
    },
    {
      key: 'rules',
      why: 'Local rules: alerts raised and cleared on the gateway, uplink or not (gateway/src/rules/LOCAL.md). Reloaded by SIGHUP.',
      example: true,
      items: [
        [
          { key: 'id', why: 'Names the alert topic fm/alerts/<gateway>/<id>/<series>.', value: 'boiler-hot' },
          { key: 'kind', why: 'threshold, rate, staleness or deadband.', value: 'threshold' },
          { key: 'series', why: 'device/sensor; * for any device or sensor.', value: 'boiler/temp' },
          { key: 'high', why: 'Raised above this value.', value: 80 },
          { key: 'hysteresis', why: 'Cleared only below high - hysteresis, so it does not flap.', value: 2 },
          { key: 'severity', why: 'info, warning or critical.', value: 'critical' },
        ],
      ],
    },
    {
      key: 'rollups',
      why: '1-minute and 1-hour aggregates kept as readings arrive (gateway/src/rollups/config.ts).',
      keys: [
        { key: 'minute', why: 'The 1-minute tier.', keys: [{ key: 'retention', why: '14 days: 20,160 rows per series.', value: duration(d.rollups.retentionMs.minute) }] },
        { key: 'hour', why: 'The 1-hour tier.', keys: [{ key: 'retention', why: 'A year and a month, for year-on-year views.', value: duration(d.rollups.retentionMs.hour) }] },
        { key: 'flushInterval', why: 'How often open buckets are written; a crash loses at most this much of the rollups (never raw readings).', value: duration(d.rollups.flushIntervalMs) },
        { key: 'maxPending', why: 'Buckets held in memory before an early flush (about 2 MB).', value: d.rollups.maxPending },
        { key: 'retentionCheck', why: 'How often expired buckets are deleted.', value: duration(d.rollups.retentionCheckMs) },
        { key: 'maxSeries', why: 'Series rolled up at most; more are counted and skipped.', value: d.rollups.maxSeries },
      ],
    },
    {
      key: 'storage',
      why: 'The reading log\'s disk budget and what happens when it is full (gateway/src/store/STORAGE.md).',
      keys: [
        { key: 'budgetBytes', why: '0 = from the free disk space times the board\'s share (at least 8 MiB).', value: d.storage.budgetBytes },
        { key: 'policy', why: 'downsample (old unsent raw readings become 1-minute rollups), drop-oldest or reject-new. Every loss is counted.', value: d.storage.policy },
        { key: 'checkIntervalMs', why: 'How often the budget is checked (commits also check).', value: d.storage.checkIntervalMs },
        { key: 'lowWaterPercent', why: 'Enforcement frees down to this share of the budget, so it does not run on every commit.', value: d.storage.lowWaterPercent },
      ],
    },
    {
      key: 'integrations',
      why: 'Local integrations (gateway/src/integrations/).',
      keys: [
        {
          key: 'homeassistant',
          why: 'Home Assistant MQTT discovery of devices, series and alerts (gateway/src/integrations/homeassistant/HOMEASSISTANT.md).',
          keys: [
            { key: 'enabled', why: 'Announce to Home Assistant.', value: d.integrations.homeassistant.enabled },
            { key: 'url', why: "Home Assistant's broker (mqtt://host:1883); null = this gateway's broker, where Home Assistant logs in as an app (fieldmesh gateway add-app).", value: d.integrations.homeassistant.url },
            { key: 'username', why: 'Login at that broker; null = anonymous.', value: d.integrations.homeassistant.username },
            { key: 'password', why: 'Better from the environment: ${HA_MQTT_PASSWORD}.', value: d.integrations.homeassistant.password },
            { key: 'discoveryPrefix', why: "Home Assistant's discovery prefix (its default).", value: d.integrations.homeassistant.discoveryPrefix },
            { key: 'retireAfterMs', why: 'A series silent this long is removed from Home Assistant (7 days); 0 = never.', value: d.integrations.homeassistant.retireAfterMs },
          ],
        },
      ],
    },
    {
      key: 'fleet',
      why: 'Signed releases and config revisions from the cloud, installed side by side with automatic rollback (gateway/src/fleet/FLEET-AGENT.md). Needs uplink.',
      example: true,
      keys: [
        { key: 'releaseKeys', why: 'Public keys (base64) releases and configs must be signed with: the publicKey of `fieldmesh fleet keygen`. Several while a key is rotated.', value: ['REPLACEwithTHEpublicKEYfromFLEETkeygenXXXX0='] },
        { key: 'tags', why: `Group tags reported to the cloud; rollouts target groups by them. Each is ${IDENTIFIER_RULE}.`, value: fleetDefaults.tags },
        { key: 'cloudUrl', why: "The cloud's HTTP API (https://host:port), where release bundles are downloaded with the uplink password; null = configs only (unless bundles come over the uplink).", value: 'https://cloud.example:8443' },
        { key: 'bundleTransport', why: 'How bundles are downloaded: http (cloudUrl, with uplink.password), mqtt (over the uplink connection: for a client certificate without a password), auto = http when uplink.password is set, else mqtt.', value: fleetDefaults.bundleTransport },
        { key: 'releasesDir', why: 'Releases unpacked side by side (<version>/ and the current link the launcher starts).', value: fleetDefaults.releasesDir },
        { key: 'confirmDeadlineSec', why: 'A new release or config must prove healthy this many seconds after its start, else it is rolled back (at least 5).', value: fleetDefaults.confirmDeadlineSec },
        { key: 'maxAttempts', why: 'Starts a new release or config gets to confirm before it is rolled back.', value: fleetDefaults.maxAttempts },
      ],
    },
  ];
}
