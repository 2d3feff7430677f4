import { silentLogger, systemClock, type Clock, type Logger, type Reading } from '@fieldmesh/device-sdk';
import type { StateSeries } from './state-compaction.js';
import { ReconnectBackoff } from './reconnect-backoff.js';
import { MqttUplinkLink, type LinkSession, type UplinkLink } from './uplink-link.js';
import { uplinkTopics } from '@fieldmesh/protocol';
import { resolveUplinkOptions, type ResolvedUplinkOptions, type UplinkOptions } from './uplink-options.js';
import { STATE_CODE, statusMessage, type UplinkState, type UplinkStats } from './uplink-stats.js';
import { LanePump } from './lane-pump.js';
import { SessionTopics } from './session-topics.js';
import { publishAcked } from './acked-publish.js';

// The public surface stays importable from here (gateway.ts, tests, benches).
export type { UplinkOptions } from './uplink-options.js';
export type { UplinkState, UplinkStats } from './uplink-stats.js';

/**
 * Store-and-forward delivery of the reading log to the cloud (docs/ARCHITECTURE.md step 4, FORMAT.md).
 * A cursor over the log: read past the sent position, pack, publish at QoS 1, and move the
 * AckWatermark only on the cloud's ack, never on PUBACK. On reconnect it resends from the
 * watermark at once; the cloud's `(gateway, epoch, seq)` key makes the resend harmless.
 *
 * This class is the link's life cycle (connect, online, down, backoff, stop) and the retained
 * status. The lanes and the pump that shares the send window and byte cap between them are
 * lane-pump.ts; other topics of the session (fleet) are session-topics.ts.
 */
export class Uplink {
  private readonly o: ResolvedUplinkOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly backoff: ReconnectBackoff;
  private readonly link: UplinkLink;
  private readonly lanes: LanePump;
  private readonly topics = new SessionTopics();
  private unsubscribeAlerts: (() => void) | null = null;
  private client: LinkSession | null = null;
  private generation = 0;
  private state: UplinkState = 'stopped';
  private reconnectTimer: unknown = null;
  private statusTimer: unknown = null;
  private lastError = { message: '', at: -Infinity };
  private readonly stateSeries: StateSeries;
  private connects = 0;

  constructor(opts: UplinkOptions) {
    const { o, stateSeries } = resolveUplinkOptions(opts);
    this.o = o;
    this.stateSeries = stateSeries;
    this.clock = opts.clock ?? systemClock;
    this.logger = (opts.logger ?? silentLogger).child({ component: 'uplink' });
    this.backoff = new ReconnectBackoff(o.backoffMinMs, o.backoffMaxMs, opts.random);
    this.link = opts.link ?? new MqttUplinkLink(opts.url, opts.tls);
    this.lanes = new LanePump(o, stateSeries, opts.alerts, {
      clock: this.clock,
      logger: this.logger,
      session: () => this.client,
      online: () => this.state === 'online',
      generation: () => this.generation,
    });
  }

  /** Reads `topic` too while connected (call before start). Its messages may be hostile: `onMessage` must bound and check them. */
  subscribe(topic: string, onMessage: (payload: Buffer) => void): void {
    this.topics.subscribe(topic, onMessage);
  }

  /**
   * Publishes a retained message (QoS 1) now if online, and again after every reconnect, so the
   * newest one reaches the broker whatever the link did meanwhile. Resolves on PUBACK (true), or
   * false when offline or after `timeoutMs` without one.
   */
  publishRetained(topic: string, payload: string, timeoutMs = 2000): Promise<boolean> {
    this.topics.retain(topic, payload);
    return this.publishOnce(topic, payload, true, timeoutMs);
  }

  /** Publishes once (QoS 1, not retained) if online: nothing is kept for a later session. */
  publishOnce(topic: string, payload: Buffer | string, retain = false, timeoutMs = 2000): Promise<boolean> {
    const client = this.client;
    if (this.state !== 'online' || !client?.connected) return Promise.resolve(false);
    return publishAcked(client, this.clock, topic, payload, retain, timeoutMs);
  }

  onSubscribed(listener: () => void): void {
    this.topics.onSubscribed(listener);
  }

  start(): void {
    if (this.state !== 'stopped') return;
    // A new alert goes at once, not at the next ingest commit.
    this.unsubscribeAlerts = this.o.alerts?.onQueued(() => this.notify()) ?? null;
    this.connectNow();
  }

  /**
   * Called after each ingest commit with what was committed, so state series are compacted over
   * the whole backlog (state-compaction.ts), not only within one read of the log.
   */
  observeCommitted(firstSeq: number, readings: readonly Reading[]): void {
    this.stateSeries.observe(firstSeq, readings);
  }

  /** Called after each ingest commit: new readings may be sent (coalesced). */
  notify(): void {
    if (this.state === 'online') this.lanes.schedulePump();
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.unsubscribeAlerts?.();
    this.unsubscribeAlerts = null;
    this.generation++;
    this.clearTimer('reconnectTimer');
    this.clearTimer('statusTimer');
    this.lanes.stop();
    const client = this.client;
    this.client = null;
    if (!client) return;
    // A clean stop says so itself: the broker drops the last will on a clean DISCONNECT.
    if (client.connected) await publishAcked(client, this.clock, uplinkTopics.status(this.o.gatewayId), JSON.stringify(this.statusMessage(false)), true, 2000);
    await client.close(true);
  }

  stats(): UplinkStats {
    const backlog = this.o.log.backlog();
    const { bulk, alertLane, sendWindow, drain } = this.lanes;
    return {
      state: this.state,
      stateCode: STATE_CODE[this.state],
      ...bulk.stats,
      bytesSent: this.lanes.bytesSent,
      connects: this.connects,
      inFlight: bulk.inFlight,
      backlog: backlog.readings,
      backlogBytes: backlog.bytes,
      oldestUnsentAgeMs: backlog.oldestUnsentTs === null ? null : Math.max(0, this.clock.now() - backlog.oldestUnsentTs),
      ackedSeq: this.o.log.ackWatermark(),
      sendWindow: sendWindow.limit,
      windowDecreases: sendWindow.decreases,
      drainRate: Math.round(drain.rate() * 10) / 10,
      etaSeconds: drain.etaSeconds(backlog.readings),
      // The alerts lane's timeouts and refusals count with the batches'.
      batchesTimedOut: bulk.stats.batchesTimedOut + (alertLane?.stats.timedOut ?? 0),
      batchesRefused: bulk.stats.batchesRefused + (alertLane?.stats.refused ?? 0),
      alertsSent: alertLane?.stats.alertsSent ?? 0,
      alertsAcked: alertLane?.stats.alertsAcked ?? 0,
      alertsPending: alertLane?.pending() ?? 0,
      alertsSkipped: alertLane?.stats.alertsSkipped ?? 0,
    };
  }

  private clearTimer(key: 'reconnectTimer' | 'statusTimer'): void {
    const t = this[key];
    if (t !== null) this.clock.clearTimeout(t as never);
    this[key] = null;
  }

  private statusMessage(online: boolean) {
    return statusMessage(online, this.stats(), this.o.status?.() ?? {}, this.clock.now(), this.o.log.epoch);
  }

  private connectNow(): void {
    this.state = 'connecting';
    const gen = ++this.generation;
    const current = () => gen === this.generation;
    const topics = this.topics.topics();
    this.client = this.link.open(
      {
        clientId: this.o.gatewayId,
        ...(this.o.username !== undefined ? { username: this.o.username } : {}),
        ...(this.o.password !== undefined ? { password: this.o.password } : {}),
        ackTopic: uplinkTopics.ack(this.o.gatewayId),
        ...(topics ? { topics } : {}),
        will: { topic: uplinkTopics.status(this.o.gatewayId), payload: Buffer.from(JSON.stringify({ v: 1, online: false, epoch: this.o.log.epoch })), qos: 1, retain: true },
      },
      {
        up: () => {
          if (current() && this.client) this.online(this.client);
        },
        error: (err) => {
          if (current()) this.connectionError(err);
        },
        down: () => {
          if (current()) this.linkDown();
        },
        ack: (payload) => {
          if (current()) this.lanes.ack(payload);
        },
        message: (topic, payload) => {
          if (current()) this.topics.deliver(topic, payload);
        },
        subscribed: () => {
          if (current()) this.topics.subscribed();
        },
      },
    );
  }

  /**
   * A refused login (CONNACK 4/5) needs a person, so it is a warning; a refused TCP connect while
   * the cloud is away is expected store-and-forward. Either way at most one line per minute per
   * distinct message: a gateway retrying for days must not fill its SD card with logs.
   */
  private connectionError(err: Error & { code?: string | number }): void {
    const now = this.clock.monotonic();
    if (err.message === this.lastError.message && now - this.lastError.at < 60_000) return;
    this.lastError = { message: err.message, at: now };
    const refusedLogin = err.code === 4 || err.code === 5;
    if (refusedLogin) this.logger.warn({ err: err.message, url: this.o.url }, 'cloud refused the uplink login: check uplink.username / uplink.password');
    else this.logger.info({ err: err.message, url: this.o.url }, 'uplink connection error');
  }

  private online(client: LinkSession): void {
    this.state = 'online';
    this.connects++;
    this.backoff.reset();
    this.logger.info({ url: this.o.url }, 'uplink online');
    this.lanes.sessionUp(this.connects > 1);
    this.publishStatus(client);
    this.topics.replay(client);
    this.lanes.pump();
  }

  private publishStatus(client: LinkSession): void {
    this.clearTimer('statusTimer');
    if (this.state !== 'online' || !client.connected) return;
    client.publish(uplinkTopics.status(this.o.gatewayId), JSON.stringify(this.statusMessage(true)), { qos: 1, retain: true });
    const t = this.clock.setTimeout(() => this.publishStatus(client), this.o.statusIntervalMs);
    t.unref?.();
    this.statusTimer = t;
  }

  private linkDown(): void {
    if (this.state === 'stopped') return;
    const wasOnline = this.state === 'online';
    this.generation++;
    void this.client?.close(false);
    this.client = null;
    this.clearTimer('statusTimer');
    this.lanes.sessionDown();
    this.state = 'waiting';
    const delay = this.backoff.next();
    if (wasOnline) this.logger.warn({ retryInMs: delay }, 'uplink down, store-and-forward');
    const t = this.clock.setTimeout(() => {
      this.reconnectTimer = null;
      if (this.state === 'waiting') this.connectNow();
    }, delay);
    t.unref?.();
    this.reconnectTimer = t;
  }
}
