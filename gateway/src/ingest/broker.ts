import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { silentLogger, systemClock, type Clock, type Logger, type Timer, isDeviceId } from '@fieldmesh/device-sdk';
import type { BrokerConfig } from '../config/broker.js';
import type { CredentialStore } from './credentials.js';
import { BrokerError, IngestError, type RejectReason } from './errors.js';
import type { Ingest } from './ingest.js';
import { GuardedSocket } from '@fieldmesh/protocol';
import { RejectLog } from './reject-log.js';
import { APP_ID, APP_USER_PREFIX, AppGrant, availabilityTopic, READING_TOPIC_PREFIX, WRITE_TOPIC_PREFIX } from './app-grant.js';
import { ReadingFeed } from './reading-feed.js';
import { handleAppWrite, type AppWriter } from './app-write.js';
import { decodePublish, DEVICE_TOPIC_PREFIX, rejectedTopic } from './topic.js';

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

/** CONNACK return codes (MQTT 3.1.1 §3.2.2.3). */
const CONNACK_IDENTIFIER_REJECTED = 2;
const CONNACK_BAD_CREDENTIALS = 4;

/** Refused publishes are routed here, where no subscription can see them (authorizeForward). */
const REFUSED_TOPIC_PREFIX = '$fm/refused/';

/**
 * The embedded MQTT broker devices publish to: aedes behind a socket guard (packet size cap,
 * connect timeout, connection cap), with per-device credentials and topic ACL. A publish is
 * acknowledged (PUBACK) only after its readings committed, because aedes sends the PUBACK only
 * when `authorizePublish` calls back (lib/handlers/publish.js: authorizePublish → enqueuePublish).
 */
export class IngestBroker {
  private aedes: Aedes | null = null;
  private server: Server | null = null;
  private readonly identity = new WeakMap<Client, string>();
  private readonly connectTimers = new WeakMap<object, Timer>();
  /** QoS 2 packet ids of each client: being committed now, and committed (until aedes holds them or a new message reuses the id). At most 65535 each. */
  private readonly qos2Ids = new WeakMap<Client, { committing: Set<number>; committed: Set<number> }>();
  private readonly sockets = new Set<Socket>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly rejects: RejectLog;
  private boundPort = 0;
  private readonly appGrants = new WeakMap<Client, AppGrant>();
  private readonly appClients = new Set<Client>();
  /** `fm/r/<series>` for apps; fed by the gateway's commit pipeline. */
  readonly feed: ReadingFeed;
  readonly appStats = { connected: 0, cutSlow: 0 };
  /** Topics an app may publish on, and who hears it (Home Assistant's birth message): nothing else, and nothing stored. */
  private readonly appPublishTopics = new Map<string, (payload: string) => void>();
  /** Topic prefixes every app may also subscribe under (Home Assistant's discovery prefix on this broker). */
  private readonly appSubscribePrefixes: string[] = [];

  constructor(private readonly opts: IngestBrokerOptions) {
    if (opts.config.auth === 'credentials' && !opts.credentials) throw new Error('IngestBroker: auth "credentials" needs a CredentialStore');
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.logger ?? silentLogger).child({ component: 'broker' });
    this.rejects = new RejectLog(this.log, this.clock, opts.rejectLogIntervalMs ?? 60_000);
    this.feed = new ReadingFeed(
      // One QoS 0 PUBLISH, encoded once, written whole to each app's connection: a QoS 0 packet
      // has no id or state in the session, so it may go beside aedes' own writes (each of them
      // is a whole packet too).
      (clients, topic, payload) => {
        const packet = mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false });
        for (const c of clients) {
          const conn = (c as Client).conn as unknown as GuardedSocket;
          if (!conn.destroyed && conn.writable) conn.write(packet);
        }
      },
      () => this.cutSlowApps(),
    );
  }

  /** The port listened on (useful with `port: 0`). */
  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const cfg = this.opts.config;
    this.aedes = await Aedes.createBroker({
      // Our own timer (below) closes and counts slow connects; aedes' is the backstop.
      connectTimeout: cfg.connectTimeoutMs * 2,
      preConnect: (client, _packet, cb) => {
        const t = this.connectTimers.get(client.conn);
        if (t) this.clock.clearTimeout(t);
        cb(null, true);
      },
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.authorizeSubscribe(client, sub, done),
      authorizeForward: (_client, packet) => (packet.topic.startsWith(REFUSED_TOPIC_PREFIX) ? null : packet),
    });
    this.aedes.on('clientError', (client, err) => this.rejects.note(`client:${client.id}`, { err: err.message }, 'mqtt client error'));
    this.aedes.on('clientReady', (client) => {
      if (!this.appGrants.has(client)) return;
      this.appClients.add(client);
      this.appStats.connected = this.appClients.size;
    });
    this.aedes.on('clientDisconnect', (client) => this.forgetApp(client));
    this.aedes.on('unsubscribe', (topics, client) => {
      if (client && this.appGrants.has(client)) for (const t of topics) this.feed.unsubscribe(client, t);
    });
    this.aedes.on('connectionError', (_client, err) => this.log.debug({ err: err.message }, 'mqtt connection error'));
    const server = createServer((socket) => this.accept(socket));
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
    for (const s of this.sockets) s.destroy();
    await closed;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const stats = this.opts.ingest.stats;
    const cfg = this.opts.config;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.sockets.size >= cfg.maxConnections) {
      stats.reject('too_many_connections');
      this.rejects.note(`addr:${socket.remoteAddress}`, { reason: 'too_many_connections', max: cfg.maxConnections }, 'connection refused');
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    stats.connections = this.sockets.size;
    socket.setNoDelay(true);
    socket.on('error', () => {}); // reported through the guarded stream / aedes
    const guarded = new GuardedSocket(
      socket,
      cfg.maxPacketBytes,
      (why, kind) => {
        const reason = kind === 'slow_packet' ? 'slow_packet' : 'packet_too_large';
        stats.reject(reason);
        this.rejects.note(`addr:${socket.remoteAddress}`, { reason, detail: why, remote }, 'connection closed');
      },
      { packetTimeoutMs: cfg.packetTimeoutMs ?? 0, clock: this.clock },
    );
    const timer = this.clock.setTimeout(() => {
      stats.reject('connect_timeout');
      this.rejects.note(`addr:${socket.remoteAddress}`, { reason: 'connect_timeout', remote }, 'connection closed: no CONNECT in time');
      socket.destroy();
    }, cfg.connectTimeoutMs);
    timer.unref?.();
    this.connectTimers.set(guarded, timer);
    socket.once('close', () => {
      this.clock.clearTimeout(timer);
      this.sockets.delete(socket);
      stats.connections = this.sockets.size;
    });
    this.aedes!.handle(guarded);
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const refuse = (returnCode: number, why: string) => {
      this.opts.ingest.stats.reject('bad_credentials');
      this.rejects.note(`login:${username ?? client.id}`, { reason: 'bad_credentials', why }, 'login refused');
      const err = new Error(why) as AuthenticateError;
      (err as { returnCode: number }).returnCode = returnCode;
      done(err, false);
    };
    if (username !== undefined && username.startsWith(APP_USER_PREFIX)) return this.authenticateApp(client, username, password, refuse, done);
    if (this.opts.config.auth === 'none') {
      // Lab mode: the device is who its client id says it is.
      const device = username ?? client.id;
      if (!isDeviceId(device)) return refuse(CONNACK_IDENTIFIER_REJECTED, `device id ${JSON.stringify(device).slice(0, 80)} is not valid`);
      this.identity.set(client, device);
      return done(null, true);
    }
    if (username === undefined || password === undefined || !isDeviceId(username)) return refuse(CONNACK_BAD_CREDENTIALS, 'anonymous or malformed login');
    // A client id names a session, and a second CONNECT with the same id takes the session over
    // [MQTT-3.1.4-2]: a device may only use its own id (or `<id>:<suffix>`), so it cannot kick
    // another device off.
    if (client.id !== username && !client.id.startsWith(`${username}:`)) {
      return refuse(CONNACK_IDENTIFIER_REJECTED, `client id ${JSON.stringify(client.id).slice(0, 80)} is not ${username} or ${username}:…`);
    }
    this.opts.credentials!.verify(username, password).then(
      (ok) => {
        if (!ok) return refuse(CONNACK_BAD_CREDENTIALS, `wrong password for ${username}`);
        this.identity.set(client, username);
        done(null, true);
      },
      (err: Error) => refuse(CONNACK_BAD_CREDENTIALS, err.message),
    );
  }

  /** `app:<id>` with its password from apps.json; the client id is bound to it as a device's is. */
  private authenticateApp(
    client: Client,
    username: string,
    password: Buffer | undefined,
    refuse: (returnCode: number, why: string) => void,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const id = username.slice(APP_USER_PREFIX.length);
    const apps = this.opts.apps;
    if (!apps || password === undefined || !APP_ID.test(id)) return refuse(CONNACK_BAD_CREDENTIALS, 'app login without credentials');
    if (client.id !== username && !client.id.startsWith(`${username}:`)) {
      return refuse(CONNACK_IDENTIFIER_REJECTED, `client id ${JSON.stringify(client.id).slice(0, 80)} is not ${username} or ${username}:…`);
    }
    apps.verify(id, password).then(
      (ok) => {
        if (!ok) return refuse(CONNACK_BAD_CREDENTIALS, `wrong password for ${username}`);
        try {
          this.appGrants.set(client, new AppGrant(id, apps.readPatterns(id) ?? [], apps.writePatterns(id) ?? []));
        } catch (err) {
          return refuse(CONNACK_BAD_CREDENTIALS, `app ${id}: ${(err as Error).message}`);
        }
        done(null, true);
      },
      (err: Error) => refuse(CONNACK_BAD_CREDENTIALS, err.message),
    );
  }

  /**
   * Writes a Modbus coil or register for an app with `--write` rights (INGEST.md §Apps): the
   * PUBACK comes after the slave answered; the outcome is published on `fm/a/<app>/result`.
   * Nothing is stored and nothing is forwarded (the publish goes to the refused topic).
   */
  private appWrite(grant: AppGrant, packet: PublishPacket, done: (error?: Error | null) => void): void {
    const publish = (topic: string, payload: string) => this.publish(topic, payload, { qos: 0, retain: false });
    const refusedTopic = `${REFUSED_TOPIC_PREFIX}${APP_USER_PREFIX}${grant.id}`;
    handleAppWrite({ writer: this.appWriter!, publish, note: (key, detail, message) => this.rejects.note(key, detail, message), refusedTopic }, grant, packet, done);
  }

  /**
   * Set by the gateway when Modbus writes exist: writes `value` to the writable register named
   * `<device>/<sensor>`; rejects with a coded error (denied, out of range, slave failure).
   */
  appWriter: AppWriter | null = null;

  private forgetApp(client: Client): void {
    if (!this.appClients.delete(client) && !this.appGrants.has(client)) return;
    this.feed.drop(client);
    this.appStats.connected = this.appClients.size;
  }

  /** Closes apps whose connection holds more than maxAppQueueBytes unwritten (they stopped reading). */
  private cutSlowApps(): void {
    const max = this.opts.maxAppQueueBytes ?? 1024 * 1024;
    for (const client of this.appClients) {
      const conn = client.conn as unknown as GuardedSocket;
      const queued = conn.writableLength + (conn.socket?.writableLength ?? 0);
      if (queued <= max) continue;
      this.opts.ingest.stats.reject('slow_consumer');
      this.appStats.cutSlow++;
      this.rejects.note(`login:${client.id}`, { reason: 'slow_consumer', queuedBytes: queued, max }, 'app cut off: not reading');
      this.forgetApp(client);
      conn.socket?.destroy();
      conn.destroy();
    }
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    if (client === null) return done(); // the gateway's own publishes
    const grant = this.appGrants.get(client);
    if (grant) {
      if (packet.topic.startsWith(WRITE_TOPIC_PREFIX) && this.appWriter && grant.mayWrite(packet.topic.slice(WRITE_TOPIC_PREFIX.length))) return this.appWrite(grant, packet, done);
      const heard = this.appPublishTopics.get(packet.topic);
      if (heard && (packet.payload as Buffer).length <= 64) {
        packet.retain = false;
        try {
          heard((packet.payload as Buffer).toString('utf8'));
        } catch (err) {
          this.log.error({ err, topic: packet.topic }, 'app publish handler threw');
        }
        return done();
      }
      this.opts.ingest.stats.reject('app_publish');
      this.rejects.note(`login:${client.id}`, { reason: 'app_publish', topic: packet.topic.slice(0, 200) }, 'publish refused: apps are read-only');
      return done(new Error('apps are read-only'));
    }
    const device = this.identity.get(client);
    if (device === undefined) return done(new Error('publish before authentication'));
    // The gateway is the store; a device's retained message would only grow broker memory.
    packet.retain = false;
    if (packet.qos === 2 && packet.messageId !== undefined) return this.qos2Publish(client, device, packet, done);
    this.commitPublish(device, packet, done);
  }

  /**
   * QoS 2 is exactly once [MQTT-4.3.3]: a PUBLISH resent (DUP) with the same packet id before
   * its PUBREL is the same message. aedes spots the resend only after this hook (it finds the
   * packet in its incoming store), so without this check the readings were committed twice.
   * Ids being committed, just committed (aedes stores the packet a moment later) or stored and
   * awaiting PUBREL are acknowledged again without storing when DUP is set (a new message reusing
   * a freed id has DUP 0, MQTT-3.3.1-1).
   */
  private qos2Publish(client: Client, device: string, packet: PublishPacket, done: (error?: Error | null) => void): void {
    const id = packet.messageId!;
    let ids = this.qos2Ids.get(client);
    if (ids?.committing.has(id)) return this.qos2Resent(done);
    if (ids?.committed.has(id)) {
      if (packet.dup) return this.qos2Resent(done);
      ids.committed.delete(id);
    }
    // aedes' persistence API (aedes-persistence): resolves when the id is stored, awaiting PUBREL.
    const store = (this.aedes as unknown as { persistence: { incomingGetPacket(c: Client, p: PublishPacket): Promise<unknown> } }).persistence;
    store.incomingGetPacket(client, packet).then(
      () => {
        ids?.committed.delete(id);
        this.qos2Resent(done);
      },
      () => {
        if (!ids) this.qos2Ids.set(client, (ids = { committing: new Set(), committed: new Set() }));
        if (ids.committing.has(id) || (packet.dup && ids.committed.has(id))) return this.qos2Resent(done);
        ids.committing.add(id);
        this.commitPublish(device, packet, (err) => {
          ids!.committing.delete(id);
          if (!err) ids!.committed.add(id);
          done(err);
        });
      },
    );
  }

  private qos2Resent(done: (error?: Error | null) => void): void {
    this.opts.ingest.stats.duplicates++;
    done();
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
    this.appPublishTopics.set(topic, handler);
  }

  /** Lets every app subscribe under `prefix` (which ends in `/`) too. */
  allowAppSubscribe(prefix: string): void {
    this.appSubscribePrefixes.push(prefix);
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

  private authorizeSubscribe(client: Client, sub: Subscription, done: (error: Error | null, subscription?: Subscription | null) => void): void {
    const grant = this.appGrants.get(client);
    if (grant) {
      if (!grant.allows(sub.topic, this.opts.gatewayId ?? '') && !this.appSubscribePrefixes.some((p) => sub.topic.startsWith(p))) {
        this.opts.ingest.stats.reject('app_subscribe');
        this.rejects.note(`login:${client.id}`, { reason: 'app_subscribe', topic: sub.topic.slice(0, 200), read: grant.read }, 'subscription refused: outside the app\'s read patterns');
        return done(null, null); // SUBACK 0x80 [MQTT-3.9.3]
      }
      if (sub.topic.startsWith(READING_TOPIC_PREFIX)) this.feed.subscribe(client, sub.topic);
      return done(null, { ...sub, qos: sub.qos > 1 ? 1 : sub.qos });
    }
    if (this.opts.config.auth === 'none') return done(null, sub);
    // Alerts are for local actuators: any authenticated device may listen (never publish) there.
    if (this.identity.get(client) !== undefined && (sub.topic === 'fm/alerts/#' || sub.topic.startsWith('fm/alerts/'))) return done(null, sub);
    // A device may listen to its own subtree only (rejection notices, later: commands).
    const device = this.identity.get(client);
    const own = `${DEVICE_TOPIC_PREFIX}${device}/`;
    if (device !== undefined && (sub.topic.startsWith(own) || sub.topic === `${DEVICE_TOPIC_PREFIX}${device}/#`)) return done(null, sub);
    done(null, null);
  }
}
