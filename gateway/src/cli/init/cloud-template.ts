import type { CloudBridgeModule } from '../cloud-bridge-package.js';
import type { TemplateKey } from './config-template.js';

/**
 * The cloud bridge config `fieldmesh init cloud` writes. Values come from the defaults object
 * the loader uses (cloud-bridge/src/config.ts); the scale-out and TLS keys are commented-out
 * examples. The defaults are passed in: the cloud bridge is loaded by the command, not imported
 * by the gateway package (it is an optional peer).
 */
export function cloudTemplate(d: CloudBridgeModule['CLOUD_DEFAULTS']): TemplateKey[] {
  return [
    {
      key: 'broker',
      why: 'The MQTT broker gateways deliver to: embedded aedes, or an external MQTT 5 broker with url (cloud-bridge/src/external-broker/EXTERNAL.md).',
      keys: [
        { key: 'port', why: 'Gateways connect here (uplink.url mqtt://HOST:PORT); 0 = any free port.', value: d.broker.port },
        { key: 'host', why: 'Loopback until you mean it: set 0.0.0.0 for gateways on other hosts.', value: d.broker.host },
        { key: 'auth', why: 'credentials: each gateway logs in with a password from `fieldmesh cloud add-gateway ID`. none: a lab only.', value: d.broker.auth },
        { key: 'maxPacketBytes', why: 'Largest packet, checked before it is buffered: a batch of the uplink\'s largest size with margin.', value: d.broker.maxPacketBytes },
        { key: 'maxConnections', why: 'Concurrent gateway connections; more are refused.', value: d.broker.maxConnections },
        { key: 'connectTimeoutMs', why: 'A connection that sends no CONNECT this long is closed.', value: d.broker.connectTimeoutMs },
        { key: 'preAuthMaxBytes', why: 'Largest packet before the CONNECT is authenticated: a stranger cannot make the broker buffer maxPacketBytes.', value: d.broker.preAuthMaxBytes },
        { key: 'packetTimeoutMs', why: 'One packet may take this long from first to last byte (an 8 MiB batch at about 600 kbit/s).', value: d.broker.packetTimeoutMs },
        { key: 'shareGroup', why: 'With url: bridges in the same MQTT 5 share group split the batches between them.', value: d.broker.shareGroup },
        { key: 'url', why: 'An external MQTT 5 broker instead of the embedded one (then its ACL applies, not auth above).', value: 'mqtt://127.0.0.1:1883', example: true },
        { key: 'username', why: 'This bridge\'s login at the external broker.', value: 'fieldmesh-bridge', example: true },
        { key: 'password', why: 'From the environment, not the file.', value: '${FM_BROKER_PASSWORD}', example: true },
        {
          key: 'tls',
          why: 'TLS on the embedded broker\'s listener (gateways then use mqtts://). Paths relative to this file.',
          example: true,
          keys: [
            { key: 'cert', why: 'PEM server certificate (chain).', value: 'tls/server.crt' },
            { key: 'key', why: 'Its PEM key.', value: 'tls/server.key' },
            { key: 'ca', why: 'PEM CA that signs gateway client certificates (their CN proves the gateway id).', value: 'tls/ca.crt' },
            { key: 'requireClientCert', why: 'Refuse gateways without such a certificate (mTLS).', value: false },
          ],
        },
      ],
    },
    {
      key: 'http',
      why: 'HTTP API (/api/gateways, /api/series, /api/readings), the dashboard at / and the live API.',
      keys: [
        { key: 'port', why: '0 = any free port.', value: d.http.port },
        { key: 'host', why: 'Loopback by default; put a TLS proxy in front to expose it.', value: d.http.host },
        { key: 'allowedHosts', why: 'Host names answered besides IPs, localhost and this machine (e.g. the proxy\'s public name); others get 421 (DNS rebinding).', value: d.http.allowedHosts },
        { key: 'headersTimeoutMs', why: 'A client must send its request headers within this (slowloris).', value: d.http.headersTimeoutMs },
        { key: 'requestTimeoutMs', why: 'A client must send its whole request within this.', value: d.http.requestTimeoutMs },
      ],
    },
    {
      key: 'liveMqtt',
      why: 'A plain MQTT listener of the live stream for tools without WebSocket (mosquitto_sub, Node-RED, Telegraf); password = a live token.',
      example: true,
      keys: [
        { key: 'port', why: 'Its TCP port.', value: 1885 },
        { key: 'host', why: 'Default: http.host.', value: '127.0.0.1' },
        { key: 'tls', why: 'PEM certificate and key for mqtts.', keys: [{ key: 'cert', why: 'PEM certificate (chain).', value: 'tls/live.crt' }, { key: 'key', why: 'Its PEM key.', value: 'tls/live.key' }] },
      ],
    },
    {
      key: 'fleet',
      why: 'Fleet operations: signed releases and config revisions delivered as desired state (cloud-bridge/src/fleet/FLEET-CLOUD.md).',
      keys: [
        { key: 'releaseKeys', why: 'Public keys (publicKey of `fieldmesh fleet keygen`) uploads must be signed by; empty: shape checked only, the gateways check signatures.', value: d.fleet.releaseKeys },
        { key: 'maxBundleBytes', why: 'Largest release bundle an upload may be (bytes).', value: d.fleet.maxBundleBytes },
      ],
    },
    { key: 'dataDir', why: 'Gateway credentials, the live token\'s hash and (by default) the SQLite store. Relative to this file.', value: d.dataDir },
    { key: 'store', why: 'Default <dataDir>/cloud.sqlite. A postgres:// URL lets several bridges share one database.', value: '${FM_PG_URL:-postgres://fieldmesh@127.0.0.1:5432/fieldmesh}', example: true },
  ];
}
