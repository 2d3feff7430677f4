import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import { silentLogger, systemClock, type Clock, type Logger } from '@fieldmesh/device-sdk';
import type { BrokerConfig } from '../config/broker.js';
import type { CredentialStore } from './credentials.js';
import { BrokerError, IngestError, type RejectReason } from './errors.js';
import type { Ingest } from './ingest.js';
import { RejectLog } from './reject-log.js';
import { availabilityTopic } from './app-grant.js';
import type { ReadingFeed } from './reading-feed.js';
import type { AppWriter } from './app-write.js';
import { decodePublish, REFUSED_TOPIC_PREFIX, rejectedTopic } from './topic.js';
import { AppSessions } from './app-sessions.js';
import { BrokerAccess } from './broker-access.js';
import { BrokerConnections } from './broker-connections.js';
import { Qos2PacketIds, type IncomingPackets } from './qos2-packet-ids.js';

// mqtt-packet, the packet writer under aedes (and mqtt.js), fills a cache of 65,536 two-byte
// Buffers (every packet id) at its first write: about 6 MiB of heap kept for the process's life,
// a third of an idle gateway's heap. Without the cache it writes each id into a fresh 2-byte
// buffer, which costs nothing measurable next to the PUBACK's socket write.
mqttPacket.writeToStream.cacheNumbers = false;

export interface IngestBrokerOptions {
  config: Pick<BrokerConfig, 'port' | 'host' | 'auth' | 'maxPacketBytes' | 'connectTimeoutMs' | 'maxConnections'> & { packetTimeoutMs?: number };
  ingest: Ingest;
  /** Required unless `config.auth` is `none`. */
  credentials?: CredentialStore;
  clock?: Clock;
  logger?: Logger;
  /** Ms between two log lines about the same source's refused input. */
  rejectLogIntervalMs?: number;
  /** App credentials (`fieldmesh gateway add-app`): read-only local consumers. None: apps cannot log in. */
  apps?: CredentialStore;
  /** This gateway's id (the availability topic apps may read). */
  gatewayId?: string;
  /**
   * Bytes an app's connection may have waiting to be written before it is cut off as too slow.
   * Default 1 MiB: a few seconds of a busy gateway's readings; past that the app is not keeping
   * up and would only grow the gateway's memory.
   */
  maxAppQueueBytes?: number;
}

/**
 * The embedded MQTT broker devices publish to: aedes behind a socket guard (broker-connections.ts),
 * with per-device credentials and topic ACL (broker-access.ts). A publish is acknowledged (PUBACK)
 * only after its readings committed, because aedes sends the PUBACK only when `authorizePublish`
 * calls back (lib/handlers/publish.js: authorizePublish → enqueuePublish). Local apps on the same
 * broker: app-sessions.ts.
 */
export class IngestBroker {
  private aedes: Aedes | null = null;
  private server: Server | null = null;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly rejects: RejectLog;
  private boundPort = 0;
  private readonly connections: BrokerConnections;
  private readonly access: BrokerAccess;
  private readonly apps: AppSessions;
  private readonly qos2: Qos2PacketIds;
  /** `fm/r/<series>` for apps; fed by the gateway's commit pipeline. */
  readonly feed: ReadingFeed;
  readonly appStats: { connected: number; cutSlow: number };
  /**
   * Set by the gateway when Modbus writes exist: writes `value` to the writable register named
   * `<device>/<sensor>`; rejects with a coded error (denied, out of range, slave failure).
   */
  appWriter: AppWriter | null = null;

  constructor(private readonly opts: IngestBrokerOptions) {
    if (opts.config.auth === 'credentials' && !opts.credentials) throw new Error('IngestBroker: auth "credentials" needs a CredentialStore');
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.logger ?? silentLogger).child({ component: 'broker' });
    this.rejects = new RejectLog(this.log, this.clock, opts.rejectLogIntervalMs ?? 60_000);
    const stats = () => this.opts.ingest.stats;
    this.connections = new BrokerConnections(opts.config, stats, this.rejects, this.clock);
    this.apps = new AppSessions({
      stats,
      rejects: this.rejects,
      log: this.log,
      ...(opts.maxAppQueueBytes !== undefined ? { maxAppQueueBytes: opts.maxAppQueueBytes } : {}),
      writer: () => this.appWriter,
      publish: (topic, payload) => this.publish(topic, payload, { qos: 0, retain: false }),
    });
    this.feed = this.apps.feed;
    this.appStats = this.apps.stats;
    this.access = new BrokerAccess({
      config: opts.config,
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      ...(opts.apps ? { apps: opts.apps } : {}),
      ...(opts.gatewayId !== undefined ? { gatewayId: opts.gatewayId } : {}),
      stats,
      rejects: this.rejects,
      feed: this.feed,
    });
    this.qos2 = new Qos2PacketIds(() => this.opts.ingest.stats.duplicates++);
  }

  /** The port listened on (useful with `port: 0`). */
  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const cfg = this.opts.config;
    this.aedes = await Aedes.createBroker({
      // Our own timer (broker-connections.ts) closes and counts slow connects; aedes' is the backstop.
      connectTimeout: cfg.connectTimeoutMs * 2,
      preConnect: (client, _packet, cb) => {
        this.connections.connected(client.conn);
        cb(null, true);
      },
      authenticate: (client, username, password, done) => this.access.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.access.authorizeSubscribe(client, sub, done),
      authorizeForward: (_client, packet) => (packet.topic.startsWith(REFUSED_TOPIC_PREFIX) ? null : packet),
    });
    this.aedes.on('clientError', (client, err) => this.rejects.note(`client:${client.id}`, { err: err.message }, 'mqtt client error'));
    this.aedes.on('clientReady', (client) => {
      if (this.access.grantOf(client)) this.apps.ready(client);
    });
    this.aedes.on('clientDisconnect', (client) => this.apps.forget(client, this.access.grantOf(client) !== undefined));
    this.aedes.on('unsubscribe', (topics, client) => {
      if (client && this.access.grantOf(client)) for (const t of topics) this.feed.unsubscribe(client, t);
    });
    this.aedes.on('connectionError', (_client, err) => this.log.debug({ err: err.message }, 'mqtt connection error'));
    const server = createServer((socket) => this.connections.accept(socket, (conn) => this.aedes!.handle(conn)));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new BrokerError('FM_ERR_BROKER_LISTEN', `cannot listen on ${cfg.host}:${cfg.port}: ${err.message}`)));
      server.listen(cfg.port, cfg.host, () => resolve());
    }).catch(async (err) => {
      await this.stop();
      throw err;
    });
    server.on('error', (err) => this.log.error({ err }, 'broker server error'));
    this.boundPort = (server.address() as { port: number }).port;
    if (this.opts.gatewayId !== undefined) this.publish(availabilityTopic(this.opts.gatewayId), 'online', { qos: 1, retain: true });
  }

  async stop(): Promise<void> {
    if (this.opts.gatewayId !== undefined) this.publish(availabilityTopic(this.opts.gatewayId), 'offline', { qos: 1, retain: true });
    const server = this.server;
    const aedes = this.aedes;
    this.server = null;
    this.aedes = null;
    // server.close() calls back only once every connection has ended: end them first, or a
    // stop with devices (or apps) still connected would wait for them forever.
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    this.connections.destroyAll();
    await closed;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    if (client === null) return done(); // the gateway's own publishes
    const grant = this.access.grantOf(client);
    if (grant) return this.apps.authorizePublish(client, grant, packet, done);
    const device = this.access.deviceOf(client);
    if (device === undefined) return done(new Error('publish before authentication'));
    // The gateway is the store; a device's retained message would only grow broker memory.
    packet.retain = false;
    if (packet.qos === 2 && packet.messageId !== undefined) {
      return this.qos2.publish(() => this.incomingPackets(), client, packet, (committed) => this.commitPublish(device, packet, committed), done);
    }
    this.commitPublish(device, packet, done);
  }

  /** aedes' store of QoS 2 packets awaiting PUBREL (aedes-persistence). */
  private incomingPackets(): IncomingPackets {
    return (this.aedes as unknown as { persistence: IncomingPackets }).persistence;
  }

  private commitPublish(device: string, packet: PublishPacket, done: (error?: Error | null) => void): void {
    let decoded;
    try {
      decoded = decodePublish(device, packet.topic, packet.payload as Buffer, this.clock.now());
    } catch (err) {
      return this.refuse(device, packet, err, done);
    }
    // Only numbered messages need a digest (dedupe); sha1 here is a fingerprint, not security:
    // a device can only collide with its own messages.
    const digest = decoded.deviceSeq === undefined ? undefined : createHash('sha1').update(packet.payload as Buffer).digest('base64').slice(0, 16);
    this.opts.ingest.submit(device, decoded.readings, decoded.deviceSeq, digest).then(
      () => done(),
      (err) => this.refuse(device, packet, err, done),
    );
  }

  /**
   * A refused publish is answered with PUBACK (QoS 1) plus a notice on fm/d/<device>/rejected,
   * so a device does not resend a poison message forever; a store failure instead closes the
   * connection without PUBACK, so the device resends later (INGEST.md).
   */
  private refuse(device: string, packet: PublishPacket, err: unknown, done: (error?: Error | null) => void): void {
    if (!(err instanceof IngestError)) {
      this.log.error({ err, device }, 'unexpected ingest failure');
      return done(err as Error);
    }
    const reason: RejectReason = err.reason;
    if (reason === 'store_failed') return done(err);
    this.opts.ingest.stats.reject(reason);
    this.rejects.note(`device:${device}`, { device, reason, topic: packet.topic.slice(0, 200), detail: err.message.slice(0, 300) }, 'publish refused');
    const notice = { reason, code: err.code, topic: packet.topic.slice(0, 200), messageId: packet.messageId ?? null, detail: err.message.slice(0, 500) };
    this.aedes?.publish(
      { cmd: 'publish', topic: rejectedTopic(device), payload: Buffer.from(JSON.stringify(notice)), qos: 0, retain: false, dup: false },
      () => {},
    );
    packet.topic = `${REFUSED_TOPIC_PREFIX}${device}`;
    done();
  }

  /** Lets apps publish on exactly `topic` (small payloads), handed to `handler`; never stored. */
  allowAppPublish(topic: string, handler: (payload: string) => void): void {
    this.apps.allowPublish(topic, handler);
  }

  /** Lets every app subscribe under `prefix` (which ends in `/`) too. */
  allowAppSubscribe(prefix: string): void {
    this.access.allowAppSubscribe(prefix);
  }

  /**
   * Publishes from the gateway itself, e.g. alerts on `fm/alerts/<gateway>/…`. A no-op
   * before start and after stop; errors are the broker's to log.
   */
  publish(topic: string, payload: string | Buffer, opts: { qos: 0 | 1; retain: boolean }): void {
    this.aedes?.publish(
      { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: opts.qos, retain: opts.retain, dup: false },
      () => {},
    );
  }
}
