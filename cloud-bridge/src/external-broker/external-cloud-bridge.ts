import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger, systemClock, type Clock, type Logger } from '@fieldmesh/device-sdk';
import { AlertReceiver } from '../bridge/alert-receiver.js';
import { SqliteAlertStore } from '../bridge/alert-store.js';
import { BatchReceiver } from '../bridge/batch-receiver.js';
import { OriginKeys } from '../bridge/origin-keys.js';
import { GatewayCredentials } from '../broker/credentials.js';
import { GatewayPresence } from '../bridge/gateway-presence.js';
import { TopicRouter } from '../bridge/topic-router.js';
import { uplinkHandlers } from '../bridge/uplink-handlers.js';
import { isPostgresStore, type CloudConfig } from '../config.js';
import { dashboardRoutes } from '../dashboard/dashboard-assets.js';
import { cloudObservability } from '../http/cloud-observability.js';
import { HostAllowlist } from '@fieldmesh/device-sdk/host-allowlist';
import { CloudHttpApi } from '../http/http-api.js';
import { HttpAccess } from '../http/http-access.js';
import { LiveService } from '../live/live-service.js';
import { PgLiveRelay } from '../live/pg-live-relay.js';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import type { CloudStore } from '../store/cloud-store.js';
import { PostgresCloudStore, redact } from '../store/postgres-cloud-store.js';
import { SqliteCloudStore } from '../store/sqlite-cloud-store.js';
import { TimedStore } from '../store/timed-store.js';
import { ExternalBrokerLink } from './external-broker-link.js';

/**
 * The composition root of a bridge behind an external MQTT 5 broker (`broker.url` set): the same
 * receiver, presence, store, live API and dashboard as the embedded mode (CloudBridge), with the
 * broker replaced by a shared-subscription client. Several of these in one share group, on one
 * PostgreSQL store, split the fleet's batches (EXTERNAL.md).
 */
export class ExternalCloudBridge {
  private constructor(
    readonly config: CloudConfig,
    readonly store: CloudStore,
    readonly receiver: BatchReceiver,
    readonly link: ExternalBrokerLink,
    private readonly http: CloudHttpApi,
    readonly httpPort: number,
    readonly live: LiveService,
    /** Streams the other bridges' commits (PostgreSQL only), else null. */
    readonly relay: PgLiveRelay | null,
    private readonly logger: Logger,
    /** Alert events of the priority lane this bridge received (`<dataDir>/alerts.sqlite`). */
    readonly alerts: SqliteAlertStore,
  ) {}

  static async start(config: CloudConfig, opts: { logger?: Logger; clock?: Clock; store?: CloudStore } = {}): Promise<ExternalCloudBridge> {
    const url = config.broker.url;
    if (url === undefined) throw new Error('ExternalCloudBridge needs broker.url (use CloudBridge for the embedded broker)');
    const logger = (opts.logger ?? silentLogger).child({ component: 'cloud-bridge' });
    const clock = opts.clock ?? systemClock;
    const throttled = new RateLimitedLog(logger, clock);
    const live = LiveService.open({ dataDir: config.dataDir, clock, logger });
    // With PostgreSQL, bridges tell each other what they committed, so each streams the whole fleet.
    const origin = `fm-bridge-${process.pid}-${randomBytes(4).toString('hex')}`;
    const shared = opts.store === undefined && isPostgresStore(config.store);
    const timed = new TimedStore(opts.store ?? (shared ? await PostgresCloudStore.open(config.store, { notifyOrigin: origin }) : new SqliteCloudStore(config.store)), () => clock.monotonic());
    const store = live.feed(timed);
    let link: ExternalBrokerLink | undefined;
    let relay: PgLiveRelay | null = null;
    let http: CloudHttpApi | undefined;
    let alertStore: SqliteAlertStore | undefined;
    try {
      let receiver: BatchReceiver | undefined;
      const presence = new GatewayPresence(store, clock, throttled);
      const pending: Array<[string, Buffer]> = [];
      // Alerts of the priority lane: committed in this bridge's alerts.sqlite, acked through the broker.
      mkdirSync(config.dataDir, { recursive: true });
      alertStore = new SqliteAlertStore(join(config.dataDir, 'alerts.sqlite'));
      let alertReceiver: AlertReceiver | undefined;
      // Batches may arrive before the receiver exists (between CONNACK and the receiver below);
      // an alerts message then is dropped, and the gateway resends it after its ack timeout. The
      // broker, not this bridge, sees the connections: online comes from the status itself.
      const router = new TopicRouter(
        uplinkHandlers({
          receiver: { receive: (gw, payload) => (receiver ? receiver.receive(gw, payload) : void pending.push([gw, payload])) },
          alertReceiver: { receive: (gw, payload) => alertReceiver?.receive(gw, payload) },
          presence,
          live,
          logger,
        }),
      );
      link = await ExternalBrokerLink.connect(
        { url, shareGroup: config.broker.shareGroup, ...(config.broker.username !== undefined ? { username: config.broker.username } : {}), ...(config.broker.password !== undefined ? { password: config.broker.password } : {}) },
        router,
        logger,
      );
      const l = link;
      // The external broker's ACL checks logins; origin keys registered with `add-gateway` (the
      // same gateways.json) are checked here, so a relayed or forged batch is refused alike.
      const keys = existsSync(join(config.dataDir, 'gateways.json')) ? new GatewayCredentials(join(config.dataDir, 'gateways.json')) : null;
      receiver = new BatchReceiver(store, (gw, ack) => l.sendAck(gw, ack), clock, logger, throttled, 1000, new OriginKeys(keys, 'none'));
      alertReceiver = new AlertReceiver(alertStore, (gw, ack) => l.sendAck(gw, ack), clock, throttled, (gw, e) => live.alertMessage(gw, Buffer.from(JSON.stringify(e))));
      for (const [gw, payload] of pending.splice(0)) receiver.receive(gw, payload);
      const r = receiver;
      const httpAccess = new HttpAccess(live.tokens, new HostAllowlist(config.http.allowedHosts));
      http = new CloudHttpApi(store, httpAccess, {
        metrics: () => ({ receiver: { ...r.stats }, refusedHttp: { ...httpAccess.refused }, external: { ...l.stats, connected: l.connected, clientId: l.clientId }, statusRefused: presence.statusRefused, live: live.metrics(), relay: relay ? { ...relay.stats } : null }),
        upgrade: live.server.upgrade,
        page: dashboardRoutes(store),
        ...cloudObservability({
          store,
          timed,
          alerts: alertStore,
          live,
          clock,
          sources: { receiver: r.stats, http: () => httpAccess.refused, alerts: alertReceiver.stats, status: () => ({ refused: presence.statusRefused, throttled: presence.statusThrottled }) },
        }),
      }, config.http);
      if (shared) relay = await PgLiveRelay.start(config.store, origin, live.hub, logger, clock);
      const httpPort = await http.listen(config.http.port, config.http.host);
      logger.info({ broker: redact(url), shareGroup: config.broker.shareGroup, httpPort, store: redact(config.store) }, 'cloud bridge started behind an external broker');
      return new ExternalCloudBridge(config, store, receiver, link, http, httpPort, live, relay, logger, alertStore);
    } catch (err) {
      await relay?.close();
      live.close();
      await http?.close();
      await link?.close();
      await store.close();
      alertStore?.close();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.relay?.close();
    this.live.close();
    await this.http.close();
    await this.link.close();
    await this.receiver.idle();
    await this.store.close();
    this.alerts.close();
    this.logger.info({}, 'cloud bridge stopped');
  }
}
