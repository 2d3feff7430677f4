import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'aedes';
import { silentLogger, systemClock, type Clock, type Logger } from '@fieldmesh/device-sdk';
import { bundleTopics, uplinkTopics, encodeAck, relayTopics } from '@fieldmesh/protocol';
import { readBrokerTls } from './broker/broker-tls.js';
import { CloudBroker } from './broker/cloud-broker.js';
import { ConnectionGuard } from './broker/connection-guard.js';
import { GatewayCredentials } from './broker/credentials.js';
import { GatewayAccess } from './broker/gateway-access.js';
import { AlertReceiver } from './bridge/alert-receiver.js';
import { SqliteAlertStore } from './bridge/alert-store.js';
import { BatchReceiver } from './bridge/batch-receiver.js';
import { OriginKeys } from './bridge/origin-keys.js';
import { RelayedDelivery } from './bridge/relayed-delivery.js';
import { GatewayPresence } from './bridge/gateway-presence.js';
import { TopicRouter } from './bridge/topic-router.js';
import { uplinkHandlers } from './bridge/uplink-handlers.js';
import { isPostgresStore, type CloudConfig } from './config.js';
import { dashboardRoutes } from './dashboard/dashboard-assets.js';
import { attachBundleChunks } from './fleet/bundle-chunk-broker.js';
import { FleetService } from './fleet/fleet-service.js';
import { cloudObservability } from './http/cloud-observability.js';
import { CloudHttpApi } from './http/http-api.js';
import { HttpAccess } from './http/http-access.js';
import { HostAllowlist } from '@fieldmesh/device-sdk/host-allowlist';
import { LIVE_MAX_PACKET_BYTES } from './live/live-mqtt.js';
import { LiveService } from './live/live-service.js';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import type { CloudStore } from './store/cloud-store.js';
import { PostgresCloudStore, redact } from './store/postgres-cloud-store.js';
import { SqliteCloudStore } from './store/sqlite-cloud-store.js';
import { TimedStore } from './store/timed-store.js';

/** Concurrent `/mqtt` viewer connections (each is a WebSocket plus an aedes client). */
const LIVE_MQTT_MAX_CONNECTIONS = 200;

export function credentialsFile(config: CloudConfig): string {
  return join(config.dataDir, 'gateways.json');
}

/**
 * The cloud bridge's composition root: store, broker with gateway access control, batch receiver,
 * presence tracking and HTTP, wired together. `start` throws on a bad setup (construction throws);
 * once running, bad input is counted and logged, never fatal.
 */
export class CloudBridge {
  private constructor(
    readonly config: CloudConfig,
    readonly store: CloudStore,
    readonly broker: CloudBroker,
    readonly receiver: BatchReceiver,
    readonly access: GatewayAccess,
    private readonly http: CloudHttpApi,
    readonly brokerPort: number,
    readonly httpPort: number,
    private readonly logger: Logger,
    /** Live subscriptions (WebSocket `/live`, MQTT over WebSocket `/mqtt`): cloud-bridge/src/live/LIVE.md. */
    readonly live: LiveService,
    /** Alert events from the gateways' priority lane (`<dataDir>/alerts.sqlite`). */
    readonly alerts: SqliteAlertStore,
    readonly alertReceiver: AlertReceiver,
    /** Releases, config revisions, desired and reported state, rollouts: cloud-bridge/src/fleet/FLEET-CLOUD.md. */
    readonly fleet: FleetService,
  ) {}

  static async start(config: CloudConfig, opts: { logger?: Logger; clock?: Clock; store?: CloudStore } = {}): Promise<CloudBridge> {
    const logger = (opts.logger ?? silentLogger).child({ component: 'cloud-bridge' });
    const clock = opts.clock ?? systemClock;
    const throttled = new RateLimitedLog(logger, clock);
    const liveApi = LiveService.open({ dataDir: config.dataDir, clock, logger });
    const timed = new TimedStore(opts.store ?? (isPostgresStore(config.store) ? await PostgresCloudStore.open(config.store) : new SqliteCloudStore(config.store)), () => clock.monotonic());
    const store = liveApi.feed(timed);
    const credentials = config.broker.auth === 'credentials' ? new GatewayCredentials(credentialsFile(config)) : null;
    const access = new GatewayAccess(config.broker.auth, credentials, (what, client, detail) =>
      throttled.warn(`deny:${what}:${client?.id ?? ''}`, { client: client?.id, detail }, `${what} refused`),
    );
    let broker: CloudBroker | undefined;
    let http: CloudHttpApi | undefined;
    let alertStore: SqliteAlertStore | undefined;
    let guards: { broker: ConnectionGuard; viewers: ConnectionGuard } | undefined;
    let httpAccess: HttpAccess | undefined;
    let fleet: FleetService | undefined;
    try {
      mkdirSync(config.dataDir, { recursive: true });
      alertStore = new SqliteAlertStore(join(config.dataDir, 'alerts.sqlite'));
      const b = config.broker;
      const brokerGuard = new ConnectionGuard('broker', { maxConnections: b.maxConnections, preAuthMaxBytes: b.preAuthMaxBytes, maxPacketBytes: b.maxPacketBytes, connectTimeoutMs: b.connectTimeoutMs, packetTimeoutMs: b.packetTimeoutMs }, clock, throttled);
      // Viewers on `/mqtt` send SUBSCRIBE and PINGREQ only: the small cap holds after login too.
      const viewerGuard = new ConnectionGuard('mqtt-ws', { maxConnections: LIVE_MQTT_MAX_CONNECTIONS, preAuthMaxBytes: b.preAuthMaxBytes, maxPacketBytes: LIVE_MAX_PACKET_BYTES, connectTimeoutMs: b.connectTimeoutMs, packetTimeoutMs: b.connectTimeoutMs }, clock, throttled);
      guards = { broker: brokerGuard, viewers: viewerGuard };
      broker = await CloudBroker.start({
        port: b.port,
        host: b.host,
        connectTimeoutMs: b.connectTimeoutMs,
        access,
        guard: brokerGuard,
        ...(b.tls ? { tls: readBrokerTls(b.tls) } : {}),
      });
      const aedes = broker.aedes;
      liveApi.attachBroker(aedes, viewerGuard);
      if (config.liveMqtt) await liveApi.listenMqtt(config.liveMqtt);
      // Batches relayed by a peer (gateway/src/relay/RELAY.md) are acked to the relay, which
      // hands the ack to the origin over the mesh channel.
      const relayed = new RelayedDelivery(clock);
      const receiver = new BatchReceiver(
        store,
        (gatewayId, ack, via) =>
          new Promise<void>((resolve, reject) =>
            aedes.publish({ cmd: 'publish', topic: via === undefined ? uplinkTopics.ack(gatewayId) : relayTopics.ack(via, gatewayId), payload: encodeAck(ack), qos: 1, retain: false, dup: false }, (err) => (err ? reject(err) : resolve())),
          ),
        clock,
        logger,
        throttled,
        1000,
        // With auth: none (a lab) logins are not checked, but keys registered with add-gateway are.
        new OriginKeys(credentials ?? (existsSync(credentialsFile(config)) ? new GatewayCredentials(credentialsFile(config)) : null), config.broker.auth),
      );
      const ackSender = (gatewayId: string, ack: Parameters<typeof encodeAck>[0]) =>
        new Promise<void>((resolve, reject) =>
          aedes.publish({ cmd: 'publish', topic: uplinkTopics.ack(gatewayId), payload: encodeAck(ack), qos: 1, retain: false, dup: false }, (err) => (err ? reject(err) : resolve())),
        );
      const alertReceiver = new AlertReceiver(alertStore, ackSender, clock, throttled, (gw, e) => liveApi.alertMessage(gw, Buffer.from(JSON.stringify(e))));
      const presence = new GatewayPresence(store, clock, throttled);
      // Connections per gateway: a takeover (same gateway reconnecting) must not read as offline.
      const live = new Map<string, number>();
      const fleetService = (fleet = FleetService.open({
        dataDir: config.dataDir,
        config: config.fleet,
        liveTokens: liveApi.tokens,
        credentials,
        online: (id) => live.has(id),
        clock,
        logger,
        throttled,
        channel: {
          publishRetained: (topic, payload) =>
            new Promise<void>((resolve, reject) => aedes.publish({ cmd: 'publish', topic, payload, qos: 1, retain: true, dup: false }, (err) => (err ? reject(err) : resolve()))),
        },
        sendChunk: (gatewayId, payload) =>
          new Promise<void>((resolve, reject) => aedes.publish({ cmd: 'publish', topic: bundleTopics.chunk(gatewayId), payload, qos: 1, retain: false, dup: false }, (err) => (err ? reject(err) : resolve()))),
      }));
      const takeChunkRequest = attachBundleChunks(aedes, (c) => access.gatewayOf(c), fleetService.parts!.chunks);
      await fleetService.start();
      // The newest connection of each gateway: a will from an older one that was taken over is stale.
      const newest = new Map<string, Client>();
      const report = (p: Promise<void>) => p.catch((err: Error) => logger.error({ err: err.message }, 'presence update failed'));
      aedes.on('clientReady', (client: Client) => {
        const id = access.gatewayOf(client);
        if (id === undefined) return;
        live.set(id, (live.get(id) ?? 0) + 1);
        newest.set(id, client);
        void report(presence.connected(id));
      });
      aedes.on('clientDisconnect', (client: Client) => {
        const id = access.gatewayOf(client);
        if (id === undefined) return;
        const n = (live.get(id) ?? 1) - 1;
        if (n <= 0) live.delete(id);
        else live.set(id, n);
        if (newest.get(id) === client) newest.delete(id);
        if (n <= 0) void report(presence.disconnected(id));
      });
      const router = new TopicRouter(uplinkHandlers({ receiver, alertReceiver, presence, live: liveApi, relayed, fleet: fleetService, logger }));
      aedes.on('publish', (packet, client) => {
        // Publishes of the broker itself (acks) have no client.
        if (client === null) return;
        const gatewayId = access.gatewayOf(client);
        const current = gatewayId === undefined ? undefined : newest.get(gatewayId);
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        if (takeChunkRequest(packet.topic, client, payload)) return;
        router.dispatch(packet.topic, payload, { gatewayId, newerConnection: current !== undefined && current !== client });
      });
      httpAccess = new HttpAccess(liveApi.tokens, new HostAllowlist(config.http.allowedHosts));
      const httpGuard = httpAccess;
      http = new CloudHttpApi(relayed.annotate(store), httpAccess, {
        fleet: (req, res, url) => fleetService.parts!.routes.handle(req, res, url),
        metrics: () => ({ fleet: fleetService.metrics(), receiver: { ...receiver.stats }, access: { ...access.stats }, refusedConnections: { broker: { ...guards!.broker.refused }, mqttWs: { ...guards!.viewers.refused } }, refusedHttp: { ...httpGuard.refused }, statusRefused: presence.statusRefused, statusThrottled: presence.statusThrottled, connected: live.size, live: liveApi.metrics() }),
        upgrade: liveApi.server.upgrade,
        page: dashboardRoutes(store),
        ...cloudObservability({
          store,
          timed,
          alerts: alertStore,
          live: liveApi,
          clock,
          sources: { fleet: () => fleetService.prometheusSource(), receiver: receiver.stats, alerts: alertReceiver.stats, access: access.stats, connectionRefusals: () => ({ broker: guards!.broker.refused, mqttWs: guards!.viewers.refused }), http: () => httpGuard.refused, connected: () => live.size, status: () => ({ refused: presence.statusRefused, throttled: presence.statusThrottled }) },
        }),
      }, config.http);
      const httpPort = await http.listen(config.http.port, config.http.host);
      const bridge = new CloudBridge(config, store, broker, receiver, access, http, broker.port, httpPort, logger, liveApi, alertStore, alertReceiver, fleetService);
      logger.info({ brokerPort: bridge.brokerPort, httpPort, auth: config.broker.auth, store: redact(config.store) }, 'cloud bridge started');
      return bridge;
    } catch (err) {
      liveApi.close();
      alertStore?.close();
      await http?.close();
      await broker?.close();
      fleet?.close();
      await store.close();
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.live.close();
    await this.http.close();
    await this.broker.close();
    await this.receiver.idle();
    await this.store.close();
    this.alerts.close();
    this.fleet.close();
    this.logger.info({}, 'cloud bridge stopped');
  }
}
