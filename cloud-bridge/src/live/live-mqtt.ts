import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Aedes, Client, Connection, PublishPacket, Subscription } from 'aedes';
import type { ConnectionGuard } from '../broker/connection-guard.js';
import { MATCH_ALL, LiveMatcher } from './live-filter.js';
import type { LiveEvent } from './live-event.js';
import type { LiveSink } from './live-hub.js';
import type { LiveTokens } from './live-tokens.js';

/** Prefix of the read-only live topics on the bridge's broker. */
export const LIVE_TOPIC_PREFIX = 'fm/live/';

/**
 * Live topics for third-party MQTT dashboards (LIVE.md §MQTT):
 * `fm/live/<gateway>/<device>/<sensor>` carries each batch's new readings of that series,
 * `fm/live/<gateway>/status` the gateway's status, `fm/live/<gateway>/alert` its alerts.
 * A series always has two levels, so `fm/live/+/+/+` is every series and nothing else.
 */
export const liveTopics = {
  series: (gateway: string, series: string) => `${LIVE_TOPIC_PREFIX}${gateway}/${series}`,
  status: (gateway: string) => `${LIVE_TOPIC_PREFIX}${gateway}/status`,
  alert: (gateway: string) => `${LIVE_TOPIC_PREFIX}${gateway}/alert`,
} as const;

type AedesHooks = Pick<Aedes, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>;

/**
 * Every viewer's MQTT client id is put under this prefix. A session is keyed by client id and a
 * second CONNECT with the same id takes it over [MQTT-3.1.4-2]; `:` is in no gateway id's
 * alphabet, so a viewer can never end a gateway's session, nor a gateway a viewer's.
 */
export const LIVE_CLIENT_ID_PREFIX = 'live:';

/** A viewer sends SUBSCRIBE and PINGREQ only: packets past this are an attack, before or after login. */
export const LIVE_MAX_PACKET_BYTES = 16 * 1024;

/**
 * Read-only MQTT access for dashboard users, who connect over WebSocket (`/mqtt` on the bridge's
 * HTTP port) with any username and a live token as password. They may subscribe under `fm/live/`
 * only and publish nothing; gateways keep their own ACL (which never allows `fm/live/`).
 * The broker's hooks are wrapped so that the gateway rules stay in one place (GatewayAccess).
 */
export class LiveMqtt implements LiveSink {
  readonly matcher = new LiveMatcher(MATCH_ALL);
  readonly stats = { connected: 0, authFailures: 0, publishDenied: 0, subscribeDenied: 0, published: 0 };
  private readonly liveConnections = new WeakSet<Connection>();
  private readonly liveClients = new WeakSet<Client>();

  constructor(
    private readonly aedes: Aedes,
    private readonly tokens: LiveTokens,
    /** The `/mqtt` listener's guard: connection cap, small packet cap, connect deadline. */
    private readonly guard: ConnectionGuard,
  ) {
    const gateway: AedesHooks = { preConnect: aedes.preConnect, authenticate: aedes.authenticate, authorizePublish: aedes.authorizePublish, authorizeSubscribe: aedes.authorizeSubscribe };
    aedes.preConnect = (client, packet, done) => {
      if (this.liveConnections.has(client.conn)) packet.clientId = `${LIVE_CLIENT_ID_PREFIX}${packet.clientId || randomUUID()}`;
      return gateway.preConnect(client, packet, done);
    };
    aedes.authenticate = (client, username, password, done) => {
      if (!this.liveConnections.has(client.conn)) return gateway.authenticate(client, username, password, done);
      if (!this.tokens.verify(password?.toString('utf8'))) {
        this.stats.authFailures++;
        // 5 = not authorized [MQTT-3.2.2.3].
        return done(Object.assign(new Error('bad live token'), { returnCode: 5 }), null);
      }
      this.liveClients.add(client);
      this.guard.authenticated(client.conn, LIVE_MAX_PACKET_BYTES);
      done(null, true);
    };
    aedes.authorizePublish = (client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void) => {
      if (client !== null && this.liveConnections.has(client.conn)) {
        this.stats.publishDenied++;
        return done(new Error('live clients are read-only'));
      }
      return gateway.authorizePublish(client, packet, done);
    };
    aedes.authorizeSubscribe = (client: Client, sub: Subscription, done: (err: Error | null, sub?: Subscription | null) => void) => {
      if (!this.liveConnections.has(client.conn)) return gateway.authorizeSubscribe(client, sub, done);
      if (this.liveClients.has(client) && sub.topic.startsWith(LIVE_TOPIC_PREFIX)) return done(null, { ...sub, qos: 0 });
      this.stats.subscribeDenied++;
      done(null, null);
    };
    aedes.on('clientReady', (c) => {
      if (this.liveClients.has(c)) this.stats.connected++;
    });
    aedes.on('clientDisconnect', (c) => {
      if (this.liveClients.has(c)) this.stats.connected--;
    });
  }

  /** Hands a WebSocket stream to the broker as a live (dashboard) connection, behind the guard. */
  handle(stream: Duplex, remote: string): void {
    const conn = this.guard.admit(stream, remote);
    if (conn === null) return;
    conn.on('error', () => {});
    this.liveConnections.add(conn as unknown as Connection);
    this.aedes.handle(conn as unknown as Connection);
  }

  deliver(event: LiveEvent): void {
    // No live MQTT client: spare the broker thousands of publishes nobody receives.
    if (this.stats.connected <= 0) return;
    if (event.type === 'readings') {
      const bySeries = new Map<string, unknown[]>();
      for (const r of event.readings) {
        let list = bySeries.get(r.series);
        if (!list) bySeries.set(r.series, (list = []));
        list.push(r.unit === undefined ? { ts: r.ts, value: r.value } : { ts: r.ts, value: r.value, unit: r.unit });
      }
      for (const [series, list] of bySeries) this.publish(liveTopics.series(event.gateway, series), list);
    } else if (event.type === 'status') {
      this.publish(liveTopics.status(event.gateway), { online: event.online, at: event.at, ...(event.status ? { status: event.status } : {}) });
    } else {
      this.publish(liveTopics.alert(event.gateway), event.alert);
    }
  }

  private publish(topic: string, body: unknown): void {
    this.stats.published++;
    // QoS 0: a live view wants the newest value, not a redelivery queue; aedes' drainTimeout
    // closes a client that stops reading.
    this.aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(body)), qos: 0, retain: false, dup: false }, () => {});
  }
}
