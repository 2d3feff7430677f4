import { silentLogger, systemClock, type Clock, type Logger } from '@fieldmesh/device-sdk';
import type { AlertOutbox } from '../alerts/log.js';
import type { LoggedReading, ReadingLog } from '../store/reading-log.js';
import { AlertLane } from './alert-lane.js';
import { packBatches } from './batch-packer.js';
import { BatchWindow, type InFlightBatch } from './batch-window.js';
import { UplinkError } from './errors.js';
import { ByteRateCap } from './byte-rate-cap.js';
import { DrainMeter } from './drain-meter.js';
import { ReconnectBackoff } from './reconnect-backoff.js';
import { SendWindow } from './send-window.js';
import { StateSeries } from './state-compaction.js';
import { MqttUplinkLink, type LinkSession, type LinkTls, type UplinkLink } from './uplink-link.js';
import { decodeAck, uplinkTopics, type GatewayStatus } from './uplink-messages.js';

export interface UplinkOptions {
  gatewayId: string;
  log: ReadingLog;
  /** `mqtt://host:port` (or mqtts://) of the cloud broker. */
  url: string;
  username?: string;
  password?: string;
  clock?: Clock;
  logger?: Logger;
  /** Extra fields for the retained status message (members, dropped counts…). */
  status?: () => object;
  /** Readings per batch at most. Default 5000: a few kB on the wire for slow series, well inside any packet cap. */
  batchReadings?: number;
  /** Bytes per batch at most; a larger batch is split. Default 1 MiB (the cloud's cap defaults to 8 MiB). */
  maxBatchBytes?: number;
  /**
   * Ceiling of the adaptive send window, in batches published and not yet acked. Default 16
   * (mqtt.js warns past ~1000 in flight). The window starts at min(4, this) and adapts (AIMD,
   * send-window.ts).
   */
  maxInFlight?: number;
  /** Bytes per second at most on the link (batches and alerts), for metered links. 0 (default): no cap. */
  maxBytesPerSecond?: number;
  /** Alerts and events to send ahead of bulk readings (the AlertOutbox of gateway/src/alerts/). */
  alerts?: AlertOutbox;
  /**
   * Priority (alert) messages sent at most per bulk batch while bulk readings wait, so a storm of
   * alerts cannot starve the backlog. Default 4.
   */
  priorityShare?: number;
  /** State series patterns (`device/sensor`, `*` = one level): only their newest value goes (state-compaction.ts). Default none. */
  stateSeries?: readonly string[];
  /** Milliseconds to wait for the cloud's ack before resending a batch. Default 30000. */
  ackTimeoutMs?: number;
  /** Refusals (nacks) of a one-reading batch before it is quarantined (larger ones are split first). Default 5. */
  maxRefusals?: number;
  /**
   * Reconnect backoff bounds, ms. Defaults 500 and 10000. The drain starts on the reconnect
   * itself, so `backoffMaxMs` is the worst-case delay between the cloud coming back and data
   * flowing (Azure IoT Edge's 60 s backoff made a 120 s outage take 53 s more to drain).
   */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Status refresh period, ms. Default 15000. */
  statusIntervalMs?: number;
  /** Randomness for the backoff jitter (tests pin it). */
  random?: () => number;
  /** The transport; default MQTT to `url` (MqttUplinkLink). Tests pass an in-memory link. */
  link?: UplinkLink;
  /** TLS material for an mqtts:// url (server CA, client certificate and key). */
  tls?: LinkTls;
}

export type UplinkState = 'stopped' | 'connecting' | 'online' | 'waiting';
const STATE_CODE: Record<UplinkState, number> = { stopped: 0, connecting: 1, online: 2, waiting: 3 };

export interface UplinkStats {
  state: UplinkState;
  /** 0 stopped, 1 connecting, 2 online, 3 waiting to reconnect (for a Prometheus gauge). */
  stateCode: number;
  batchesSent: number;
  batchesAcked: number;
  batchesRefused: number;
  batchesTimedOut: number;
  batchesQuarantined: number;
  readingsAcked: number;
  readingsQuarantined: number;
  bytesSent: number;
  inFlight: number;
  connects: number;
  backlog: number;
  backlogBytes: number;
  oldestUnsentAgeMs: number | null;
  ackedSeq: number;
  /** Current adaptive send window (batches) and how often it was halved. */
  sendWindow: number;
  windowDecreases: number;
  /** Readings acked per second over the last 30 s. */
  drainRate: number;
  /** Seconds to drain the backlog at `drainRate`; null when nothing drains. */
  etaSeconds: number | null;
  /** Older values of state series not sent (compaction). */
  readingsCompacted: number;
  alertsSent: number;
  alertsAcked: number;
  alertsPending: number;
  /** Alert events given up after repeated refusals. */
  alertsSkipped: number;
}

const DEFAULTS = {
  batchReadings: 5000,
  maxBatchBytes: 1024 * 1024,
  maxInFlight: 16,
  maxBytesPerSecond: 0,
  priorityShare: 4,
  stateSeries: [] as readonly string[],
  ackTimeoutMs: 30_000,
  maxRefusals: 5,
  backoffMinMs: 500,
  backoffMaxMs: 10_000,
  statusIntervalMs: 15_000,
};

/**
 * Store-and-forward delivery of the reading log to the cloud (DESIGN.md step 4, FORMAT.md).
 * A cursor over the log: read past the sent position, pack, publish at QoS 1, and move the
 * AckWatermark only on the cloud's ack, never on PUBACK. On reconnect it resends from the
 * watermark at once; the cloud's `(gateway, epoch, seq)` key makes the resend harmless.
 */
export class Uplink {
  private readonly o: Required<Omit<UplinkOptions, 'username' | 'password' | 'status' | 'clock' | 'logger' | 'random' | 'link' | 'alerts' | 'tls'>> & UplinkOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly backoff: ReconnectBackoff;
  private readonly window: BatchWindow;
  private readonly link: UplinkLink;
  private readonly sendWindow: SendWindow;
  private readonly cap: ByteRateCap | null;
  private readonly drain: DrainMeter;
  private readonly alertLane: AlertLane | null;
  private readonly state_: StateSeries;
  /** Priority messages sent since the last bulk batch (the weighted share). */
  private priorityRun = 0;
  private capTimer: unknown = null;
  private bytesPerReading = 0;
  private unsubscribeAlerts: (() => void) | null = null;
  private client: LinkSession | null = null;
  private generation = 0;
  private state: UplinkState = 'stopped';
  /** Highest seq read into the window; the next batch starts after it. */
  private sentSeq = 0;
  private reconnectTimer: unknown = null;
  private statusTimer: unknown = null;
  private pumpScheduled = false;
  private lastError = { message: '', at: -Infinity };
  private lastStoreError = -Infinity;
  private retryTimer: unknown = null;
  /** Cloud acks received: evidence the cloud commits this gateway's data (see `refused`). */
  private acksSeen = 0;
  private pumping = false;
  private readonly counts = {
    batchesSent: 0,
    batchesAcked: 0,
    batchesRefused: 0,
    batchesTimedOut: 0,
    batchesQuarantined: 0,
    readingsAcked: 0,
    readingsQuarantined: 0,
    bytesSent: 0,
    connects: 0,
    readingsCompacted: 0,
  };

  constructor(opts: UplinkOptions) {
    if (!/^(mqtts?|tcp|tls|wss?):\/\/[^/]+/.test(opts.url)) {
      throw new UplinkError('FM_ERR_UPLINK_CONFIG', `uplink.url ${JSON.stringify(opts.url)} must look like mqtt://host:port`);
    }
    if (!opts.gatewayId) throw new UplinkError('FM_ERR_UPLINK_CONFIG', 'gatewayId is empty');
    const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as Uplink['o'];
    for (const key of ['batchReadings', 'maxBatchBytes', 'maxInFlight', 'ackTimeoutMs', 'maxRefusals', 'backoffMinMs', 'backoffMaxMs', 'statusIntervalMs'] as const) {
      if (!Number.isInteger(o[key]) || o[key] < 1) throw new UplinkError('FM_ERR_UPLINK_CONFIG', `${key} must be a positive integer, got ${String(o[key])}`);
    }
    if (!Number.isFinite(o.maxBytesPerSecond) || o.maxBytesPerSecond < 0) {
      throw new UplinkError('FM_ERR_UPLINK_CONFIG', `maxBytesPerSecond must be 0 (no cap) or a positive number, got ${String(o.maxBytesPerSecond)}`);
    }
    if (!Number.isInteger(o.priorityShare) || o.priorityShare < 1) throw new UplinkError('FM_ERR_UPLINK_CONFIG', `priorityShare must be a positive integer, got ${String(o.priorityShare)}`);
    try {
      this.state_ = new StateSeries(o.stateSeries);
    } catch (err) {
      throw new UplinkError('FM_ERR_UPLINK_CONFIG', `uplink.stateSeries: ${(err as Error).message}`);
    }
    this.o = o;
    this.clock = opts.clock ?? systemClock;
    this.logger = (opts.logger ?? silentLogger).child({ component: 'uplink' });
    this.backoff = new ReconnectBackoff(o.backoffMinMs, o.backoffMaxMs, opts.random);
    this.window = new BatchWindow(opts.log);
    this.link = opts.link ?? new MqttUplinkLink(opts.url, opts.tls);
    this.sendWindow = new SendWindow(o.maxInFlight);
    // A quarter second of burst: a metered link sees the cap held over any second, not just on average.
    this.cap = o.maxBytesPerSecond > 0 ? new ByteRateCap(this.clock, o.maxBytesPerSecond, Math.max(1, Math.floor(o.maxBytesPerSecond / 4))) : null;
    this.drain = new DrainMeter(this.clock);
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

  start(): void {
    if (this.state !== 'stopped') return;
    // A new alert goes at once, not at the next ingest commit.
    this.unsubscribeAlerts = this.o.alerts?.onQueued(() => this.notify()) ?? null;
    this.connectNow();
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
    this.window.reset((b) => this.clearBatchTimer(b));
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
      ...this.counts,
      inFlight: this.window.size,
      backlog: backlog.readings,
      backlogBytes: backlog.bytes,
      oldestUnsentAgeMs: backlog.oldestUnsentTs === null ? null : Math.max(0, this.clock.now() - backlog.oldestUnsentTs),
      ackedSeq: this.o.log.ackWatermark(),
      sendWindow: this.sendWindow.limit,
      windowDecreases: this.sendWindow.decreases,
      drainRate: Math.round(this.drain.rate() * 10) / 10,
      etaSeconds: this.drain.etaSeconds(backlog.readings),
      // The alerts lane's timeouts and refusals count with the batches'.
      batchesTimedOut: this.counts.batchesTimedOut + (this.alertLane?.stats.timedOut ?? 0),
      batchesRefused: this.counts.batchesRefused + (this.alertLane?.stats.refused ?? 0),
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

  private statusMessage(online: boolean): GatewayStatus {
    const s = this.stats();
    return {
      ...(this.o.status?.() ?? {}),
      v: 1,
      online,
      ts: this.clock.now(),
      epoch: this.o.log.epoch,
      backlog: s.backlog,
      oldestUnsentAgeMs: s.oldestUnsentAgeMs,
      ackedSeq: s.ackedSeq,
      batchesSent: s.batchesSent,
      batchesAcked: s.batchesAcked,
      batchesRefused: s.batchesRefused,
      quarantined: s.readingsQuarantined,
      drainRate: s.drainRate,
      etaSeconds: s.etaSeconds,
      alertsPending: s.alertsPending,
    };
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
    this.window.reset((b) => this.clearBatchTimer(b));
    this.alertLane?.reset();
    this.sentSeq = this.o.log.ackWatermark();
    this.publishStatus(client);
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
    this.window.reset((b) => this.clearBatchTimer(b));
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
        const bulkRoom = this.window.size < this.sendWindow.limit;
        if (this.alertLane && (this.priorityRun < this.o.priorityShare || !bulkRoom)) {
          if (this.alertLane.sendNext(this.o.log.epoch)) {
            this.priorityRun++;
            continue;
          }
        }
        if (!bulkRoom) break;
        const read = this.o.log.readAfter(this.sentSeq, this.readLimit());
        if (read.length === 0) {
          // Bulk is idle: the share does not apply, priority may go on.
          if (this.priorityRun > 0 && this.alertLane?.inFlight === null && this.alertLane.pending() > 0) {
            this.priorityRun = 0;
            continue;
          }
          break;
        }
        this.priorityRun = 0;
        const readings = this.state_.compact(read);
        this.counts.readingsCompacted += read.length - readings.length;
        for (const part of this.pack(readings)) {
          this.sentSeq = part.lastSeq;
          this.window.add(part);
          if (part.state === 'sent') this.send(part);
        }
        this.settle();
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
    if (!this.cap || this.bytesPerReading <= 0) return this.cap ? Math.min(this.o.batchReadings, 100) : this.o.batchReadings;
    return Math.max(1, Math.min(this.o.batchReadings, Math.floor(this.cap.burstBytes / this.bytesPerReading)));
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
    const now = this.clock.monotonic();
    if (now - this.lastStoreError >= 60_000) {
      this.lastStoreError = now;
      this.logger.error({ err: err.message }, 'reading log failed under the uplink; retrying in 1 s');
    }
    if (this.retryTimer !== null || this.state !== 'online') return;
    const t = this.clock.setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, 1000);
    t.unref?.();
    this.retryTimer = t;
  }

  private pack(readings: LoggedReading[]): InFlightBatch[] {
    return packBatches(readings, { gatewayId: this.o.gatewayId, epoch: this.o.log.epoch, maxBatchBytes: this.o.maxBatchBytes }, (seq, err) =>
      this.logger.warn({ seq, err: err.message }, 'reading cannot be encoded, quarantined'),
    );
  }

  private send(b: InFlightBatch): void {
    const client = this.client;
    if (!client || !b.payload) return;
    this.counts.batchesSent++;
    this.counts.bytesSent += b.payload.length;
    this.cap?.spend(b.payload.length);
    // Moving average of the encoding's bytes per reading (sizes reads under the cap).
    const per = b.payload.length / b.count;
    this.bytesPerReading = this.bytesPerReading <= 0 ? per : this.bytesPerReading * 0.8 + per * 0.2;
    // PUBACK only means the broker took it; the cloud's ack (onAck) is what counts.
    client.publish(uplinkTopics.batch(this.o.gatewayId), b.payload, { qos: 1 });
    this.clearBatchTimer(b);
    const gen = this.generation;
    const t = this.clock.setTimeout(() => {
      b.timer = null;
      if (gen !== this.generation || b.state !== 'sent') return;
      // No answer is not a refusal (the cloud may be slow or its store down): resend, and never
      // quarantine for silence, or a cloud outage would throw data away.
      this.counts.batchesTimedOut++;
      this.sendWindow.lost();
      this.send(b);
    }, this.o.ackTimeoutMs);
    t.unref?.();
    b.timer = t;
  }

  private clearBatchTimer(b: InFlightBatch): void {
    if (b.timer !== null) this.clock.clearTimeout(b.timer as never);
    b.timer = null;
  }

  /**
   * A refusal (nack). The batch is resent after a growing delay (backoffMinMs doubling up to
   * backoffMaxMs), split in two while it holds several readings and the window has room, so a
   * poison reading is isolated in about log2(batch) rounds and only it is lost, not its
   * neighbours. A one-reading batch is quarantined after `maxRefusals` refusals, but only once
   * the cloud has acked something since the first refusal of its lineage: when the cloud refuses
   * everything (its own bug, a bad deploy), that is not the readings' fault and nothing is
   * thrown away; the uplink keeps retrying, slowly.
   */
  private refused(b: InFlightBatch, reason: string): void {
    b.attempts++;
    b.reason = reason;
    if (b.firstRefusalAcks < 0) b.firstRefusalAcks = this.acksSeen;
    this.clearBatchTimer(b);
    this.sendWindow.lost();
    if (b.count === 1 && b.attempts >= this.o.maxRefusals && this.acksSeen > b.firstRefusalAcks) {
      this.logger.warn({ firstSeq: b.firstSeq, lastSeq: b.lastSeq, reason, attempts: b.attempts }, 'reading refused too often, quarantined');
      b.state = 'poison';
      b.payload = null;
      this.settle();
      this.pump();
      return;
    }
    const delay = Math.min(this.o.backoffMaxMs, this.o.backoffMinMs * 2 ** Math.min(b.attempts - 1, 20));
    const gen = this.generation;
    const t = this.clock.setTimeout(() => {
      b.timer = null;
      if (gen === this.generation && b.state === 'sent') this.retry(b);
    }, delay);
    t.unref?.();
    b.timer = t;
  }

  private retry(b: InFlightBatch): void {
    const sending = this.window.all().filter((x) => x.state === 'sent').length;
    // At least 2, so a window halved to 1 by the refusals can still isolate the poison reading.
    if (b.count > 1 && sending < Math.max(2, this.sendWindow.limit)) {
      let readings: LoggedReading[];
      try {
        // The range may have gaps (state compaction): read all of it and compact again.
        readings = this.state_.compact(this.o.log.readAfter(b.firstSeq - 1, b.lastSeq - b.firstSeq + 1).filter((r) => r.seq <= b.lastSeq));
      } catch (err) {
        this.storeTrouble(err as Error);
        return this.send(b);
      }
      if (readings.length > 1) {
        const half = Math.ceil(readings.length / 2);
        const parts = [...this.pack(readings.slice(0, half)), ...this.pack(readings.slice(half))];
        for (const p of parts) {
          // The halves carry their lineage's refusals, so isolating a poison reading counts.
          p.attempts = b.attempts;
          p.firstRefusalAcks = b.firstRefusalAcks;
          p.reason = b.reason;
        }
        this.window.replace(b, parts);
        for (const p of parts) if (p.state === 'sent') this.send(p);
        this.settle();
        return;
      }
    }
    this.send(b);
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
    if (ack.lane === 'alerts') {
      if (ack.ok) this.acksSeen++;
      return this.alertLane?.answer(ack);
    }
    if (ack.ok) {
      this.acksSeen++;
      this.window.ackRange(ack.firstSeq, ack.lastSeq);
      try {
        this.settle();
      } catch (err) {
        this.storeTrouble(err as Error);
        return;
      }
      this.pump();
      return;
    }
    this.counts.batchesRefused++;
    if (ack.firstSeq === undefined || ack.lastSeq === undefined) return; // unattributable: the ack timeout covers it
    const b = this.window.find(ack.firstSeq, ack.lastSeq);
    if (b && b.state === 'sent') this.refused(b, ack.code);
  }

  private settle(): void {
    const out = this.window.settle((b) => this.clearBatchTimer(b));
    this.counts.batchesAcked += out.acked;
    this.counts.readingsAcked += out.ackedReadings;
    this.sendWindow.acked(out.acked);
    this.drain.record(out.ackedReadings);
    this.counts.batchesQuarantined += out.quarantined;
    this.counts.readingsQuarantined += out.quarantinedReadings;
  }
}
