import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import { silentLogger, systemClock, type Clock, type Logger, type Reading } from '@fieldmesh/device-sdk';
import type { StateSeries } from './state-compaction.js';
import { AlertLane } from './alert-lane.js';
import { BulkLane } from './bulk-lane.js';
import { ByteRateCap } from './byte-rate-cap.js';
import { DrainMeter } from './drain-meter.js';
import { ReconnectBackoff } from './reconnect-backoff.js';
import { SendWindow } from './send-window.js';
import { MqttUplinkLink, type LinkSession, type UplinkLink } from './uplink-link.js';
import { decodeAck, uplinkTopics } from '@fieldmesh/protocol';
import { resolveUplinkOptions, type ResolvedUplinkOptions, type UplinkOptions } from './uplink-options.js';
import { STATE_CODE, statusMessage, type UplinkState, type UplinkStats } from './uplink-stats.js';

// The public surface stays importable from here (gateway.ts, tests, benches).
export type { UplinkOptions } from './uplink-options.js';
export type { UplinkState, UplinkStats } from './uplink-stats.js';

/**
 * Store-and-forward delivery of the reading log to the cloud (docs/ARCHITECTURE.md step 4, FORMAT.md).
 * A cursor over the log: read past the sent position, pack, publish at QoS 1, and move the
 * AckWatermark only on the cloud's ack, never on PUBACK. On reconnect it resends from the
 * watermark at once; the cloud's `(gateway, epoch, seq)` key makes the resend harmless.
 *
 * This class is the link's life cycle (connect, online, down, backoff, stop), the retained
 * status, and the pump that shares the send window and byte cap between the two lanes:
 * bulk-lane.ts (readings) and alert-lane.ts (priority).
 */
export class Uplink {
  private readonly o: ResolvedUplinkOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly backoff: ReconnectBackoff;
  private readonly link: UplinkLink;
  private readonly sendWindow: SendWindow;
  private readonly cap: ByteRateCap | null;
  private readonly drain: DrainMeter;
  private readonly bulk: BulkLane;
  private readonly alertLane: AlertLane | null;
  /** Priority messages sent since the last bulk batch (the weighted share). */
  private priorityRun = 0;
  private capTimer: unknown = null;
  private unsubscribeAlerts: (() => void) | null = null;
  private client: LinkSession | null = null;
  private generation = 0;
  private state: UplinkState = 'stopped';
  private reconnectTimer: unknown = null;
  private statusTimer: unknown = null;
  private pumpScheduled = false;
  private lastError = { message: '', at: -Infinity };
  /** A failing reading log fails every pump: one line a minute. */
  private readonly storeErrorLog: RateLimitedLog;
  private retryTimer: unknown = null;
  /** Cloud acks received on either lane: evidence the cloud commits this gateway's data (see BulkLane `refused`). */
  private acksSeen = 0;
  private pumping = false;
  private readonly stateSeries: StateSeries;
  private readonly counts = { bytesSent: 0, connects: 0 };
  /** Topics beyond the ack topic (the fleet's desired state) and who reads them. */
  private readonly subscriptions = new Map<string, (payload: Buffer) => void>();
  /** Told of every session once all `subscriptions` are in place (what a session had in flight is gone). */
  private readonly subscribedListeners: Array<() => void> = [];
  /** The newest retained message per topic of `publishRetained`, sent again on every connect. */
  private readonly retained = new Map<string, string>();

  constructor(opts: UplinkOptions) {
    const { o, stateSeries } = resolveUplinkOptions(opts);
    this.o = o;
    this.stateSeries = stateSeries;
    this.clock = opts.clock ?? systemClock;
    this.logger = (opts.logger ?? silentLogger).child({ component: 'uplink' });
    this.storeErrorLog = new RateLimitedLog(this.logger, this.clock, { intervalMs: 60_000, countZero: false });
    this.backoff = new ReconnectBackoff(o.backoffMinMs, o.backoffMaxMs, opts.random);
    this.link = opts.link ?? new MqttUplinkLink(opts.url, opts.tls);
    this.sendWindow = new SendWindow(o.maxInFlight);
    // A quarter second of burst: a metered link sees the cap held over any second, not just on average.
    this.cap = o.maxBytesPerSecond > 0 ? new ByteRateCap(this.clock, o.maxBytesPerSecond, Math.max(1, Math.floor(o.maxBytesPerSecond / 4))) : null;
    this.drain = new DrainMeter(this.clock);
    this.bulk = new BulkLane({
      clock: this.clock,
      logger: this.logger,
      log: o.log,
      gatewayId: o.gatewayId,
      maxBatchBytes: o.maxBatchBytes,
      ...(o.sign ? { sign: o.sign } : {}),
      ackTimeoutMs: o.ackTimeoutMs,
      maxRefusals: o.maxRefusals,
      backoffMinMs: o.backoffMinMs,
      backoffMaxMs: o.backoffMaxMs,
      stateSeries,
      sendWindow: this.sendWindow,
      drain: this.drain,
      hasSession: () => this.client !== null,
      publish: (payload) => this.publishCounted(uplinkTopics.batch(o.gatewayId), payload),
      generation: () => this.generation,
      acksSeen: () => this.acksSeen,
      pump: () => this.pump(),
      storeTrouble: (err) => this.storeTrouble(err),
    });
    this.alertLane = opts.alerts
      ? new AlertLane(opts.alerts, {
          clock: this.clock,
          logger: this.logger,
          ackTimeoutMs: o.ackTimeoutMs,
          maxRefusals: o.maxRefusals,
          backoffMinMs: o.backoffMinMs,
          backoffMaxMs: o.backoffMaxMs,
          publish: (payload) => this.publishCounted(uplinkTopics.alerts(o.gatewayId), payload),
          generation: () => this.generation,
          lost: () => this.sendWindow.lost(),
          acksSeen: () => this.acksSeen,
          pump: () => this.pump(),
        })
      : null;
  }

  /** Reads `topic` too while connected (call before start). Its messages may be hostile: `onMessage` must bound and check them. */
  subscribe(topic: string, onMessage: (payload: Buffer) => void): void {
    this.subscriptions.set(topic, onMessage);
  }

  /**
   * Publishes a retained message (QoS 1) now if online, and again after every reconnect, so the
   * newest one reaches the broker whatever the link did meanwhile. Resolves on PUBACK (true), or
   * false when offline or after `timeoutMs` without one.
   */
  publishRetained(topic: string, payload: string, timeoutMs = 2000): Promise<boolean> {
    this.retained.set(topic, payload);
    return this.publishOnce(topic, payload, true, timeoutMs);
  }

  /** Publishes once (QoS 1, not retained) if online: nothing is kept for a later session. */
  publishOnce(topic: string, payload: Buffer | string, retain = false, timeoutMs = 2000): Promise<boolean> {
    const client = this.client;
    if (this.state !== 'online' || !client?.connected) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const t = this.clock.setTimeout(() => resolve(false), timeoutMs);
      t.unref?.();
      client.publish(topic, payload, { qos: 1, retain }, () => {
        this.clock.clearTimeout(t);
        resolve(true);
      });
    });
  }

  onSubscribed(listener: () => void): void {
    this.subscribedListeners.push(listener);
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
    if (this.state === 'online') this.schedulePump();
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.unsubscribeAlerts?.();
    this.unsubscribeAlerts = null;
    this.generation++;
    this.clearTimer('reconnectTimer');
    this.clearTimer('statusTimer');
    this.clearTimer('retryTimer');
    this.clearTimer('capTimer');
    this.bulk.reset();
    this.alertLane?.reset();
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (client.connected) {
      // A clean stop says so itself: the broker drops the last will on a clean DISCONNECT.
      await new Promise<void>((resolve) => {
        const t = this.clock.setTimeout(resolve, 2000);
        t.unref?.();
        client.publish(uplinkTopics.status(this.o.gatewayId), JSON.stringify(this.statusMessage(false)), { qos: 1, retain: true }, () => {
          this.clock.clearTimeout(t);
          resolve();
        });
      });
    }
    await client.close(true);
  }

  stats(): UplinkStats {
    const backlog = this.o.log.backlog();
    return {
      state: this.state,
      stateCode: STATE_CODE[this.state],
      ...this.bulk.stats,
      ...this.counts,
      inFlight: this.bulk.inFlight,
      backlog: backlog.readings,
      backlogBytes: backlog.bytes,
      oldestUnsentAgeMs: backlog.oldestUnsentTs === null ? null : Math.max(0, this.clock.now() - backlog.oldestUnsentTs),
      ackedSeq: this.o.log.ackWatermark(),
      sendWindow: this.sendWindow.limit,
      windowDecreases: this.sendWindow.decreases,
      drainRate: Math.round(this.drain.rate() * 10) / 10,
      etaSeconds: this.drain.etaSeconds(backlog.readings),
      // The alerts lane's timeouts and refusals count with the batches'.
      batchesTimedOut: this.bulk.stats.batchesTimedOut + (this.alertLane?.stats.timedOut ?? 0),
      batchesRefused: this.bulk.stats.batchesRefused + (this.alertLane?.stats.refused ?? 0),
      alertsSent: this.alertLane?.stats.alertsSent ?? 0,
      alertsAcked: this.alertLane?.stats.alertsAcked ?? 0,
      alertsPending: this.alertLane?.pending() ?? 0,
      alertsSkipped: this.alertLane?.stats.alertsSkipped ?? 0,
    };
  }

  private clearTimer(key: 'reconnectTimer' | 'statusTimer' | 'retryTimer' | 'capTimer'): void {
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
    this.client = this.link.open(
      {
        clientId: this.o.gatewayId,
        ...(this.o.username !== undefined ? { username: this.o.username } : {}),
        ...(this.o.password !== undefined ? { password: this.o.password } : {}),
        ackTopic: uplinkTopics.ack(this.o.gatewayId),
        ...(this.subscriptions.size > 0 ? { topics: [...this.subscriptions.keys()] } : {}),
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
          if (current()) this.onAck(payload);
        },
        message: (topic, payload) => {
          if (current()) this.subscriptions.get(topic)?.(payload);
        },
        subscribed: () => {
          if (current()) for (const l of this.subscribedListeners) l();
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
    this.counts.connects++;
    this.backoff.reset();
    this.logger.info({ url: this.o.url }, 'uplink online');
    // A reconnect is a loss signal: the path may have changed (another bridge, a thinner link).
    if (this.counts.connects > 1) this.sendWindow.lost();
    // Everything past the watermark goes (again) now; the cloud dedupes what it already has.
    this.bulk.reset();
    this.alertLane?.reset();
    this.bulk.rewind();
    this.publishStatus(client);
    for (const [topic, payload] of this.retained) client.publish(topic, payload, { qos: 1, retain: true });
    this.pump();
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
    this.clearTimer('capTimer');
    this.bulk.reset();
    this.alertLane?.reset();
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

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /**
   * Fills the send window: alerts first (the priority lane), bulk readings from the log, at most
   * `priorityShare` priority messages per bulk batch while bulk waits, all under the byte cap.
   * Synchronous between reads: SQLite reads are short.
   */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.state === 'online' && this.client) {
        if (this.capped()) break;
        const bulkRoom = this.bulk.inFlight < this.sendWindow.limit;
        if (this.alertLane && (this.priorityRun < this.o.priorityShare || !bulkRoom)) {
          if (this.alertLane.sendNext(this.o.log.epoch)) {
            this.priorityRun++;
            continue;
          }
        }
        if (!bulkRoom) break;
        const read = this.bulk.readNext(this.readLimit());
        if (read.length === 0) {
          // Bulk is idle: the share does not apply, priority may go on.
          if (this.priorityRun > 0 && this.alertLane?.inFlight === null && this.alertLane.pending() > 0) {
            this.priorityRun = 0;
            continue;
          }
          break;
        }
        this.priorityRun = 0;
        this.bulk.sendReadings(read);
      }
    } catch (err) {
      // The log failed (disk error, closed under us): the loop does not crash; it retries later.
      this.storeTrouble(err as Error);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Readings per read. Under a byte cap, about a quarter second of the cap's worth (from the
   * bytes per reading seen so far), so the cap's debt (one batch) and hence its short-term
   * overshoot stay small; otherwise `batchReadings`.
   */
  private readLimit(): number {
    const perReading = this.bulk.bytesPerReading;
    if (!this.cap || perReading <= 0) return this.cap ? Math.min(this.o.batchReadings, 100) : this.o.batchReadings;
    return Math.max(1, Math.min(this.o.batchReadings, Math.floor(this.cap.burstBytes / perReading)));
  }

  /** True (and a pump scheduled for when tokens return) while the byte cap is in debt. */
  private capped(): boolean {
    if (!this.cap) return false;
    const wait = this.cap.waitMs();
    if (wait === 0) return false;
    if (this.capTimer === null) {
      const t = this.clock.setTimeout(() => {
        this.capTimer = null;
        this.pump();
      }, wait);
      t.unref?.();
      this.capTimer = t;
    }
    return true;
  }

  /** Publishes in the current session, counting the bytes against the stats and the cap. */
  private publishCounted(topic: string, payload: Buffer): void {
    const client = this.client;
    if (!client) return;
    this.counts.bytesSent += payload.length;
    this.cap?.spend(payload.length);
    client.publish(topic, payload, { qos: 1 });
  }

  private storeTrouble(err: Error): void {
    this.storeErrorLog.error('store', { err: err.message }, 'reading log failed under the uplink; retrying in 1 s');
    if (this.retryTimer !== null || this.state !== 'online') return;
    const t = this.clock.setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, 1000);
    t.unref?.();
    this.retryTimer = t;
  }

  private onAck(payload: Buffer): void {
    let ack;
    try {
      ack = decodeAck(payload);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'malformed ack ignored');
      return;
    }
    // An ack for another epoch is about an old database of this gateway id: not ours.
    if (ack.epoch !== undefined && ack.epoch !== this.o.log.epoch) return;
    if (ack.ok) this.acksSeen++;
    if (ack.lane === 'alerts') return this.alertLane?.answer(ack);
    this.bulk.answer(ack);
  }
}
