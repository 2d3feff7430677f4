import type { LiveMatcher } from './live-filter.js';
import type { AlertEventMessage, LiveEvent, LiveMessage, LiveReading, StatusEvent } from './live-event.js';
import type { LiveSink } from './live-hub.js';

/** The outgoing side of one subscriber's connection: a WebSocket, or a recorder in tests. */
export interface LiveChannel {
  /** Bytes accepted by `send` but not yet handed to the kernel (ws' `bufferedAmount`). */
  readonly bufferedAmount: number;
  send(text: string): void;
  /** Ends the connection at once (the peer is not reading, so a polite close would wait forever). */
  cutOff(code: number, reason: string): void;
}

export interface SubscriberLimits {
  /**
   * Bytes the connection may have queued before this subscriber counts as slow, and its readings
   * are sampled (only the newest value per series kept) until it drains. Default 1 MiB: about
   * 12k readings, a few seconds of a busy fleet. Memory per subscriber is bounded by this plus one
   * message plus the pending maps below.
   */
  softBytes: number;
  /** Distinct series held while sampling; newer series beyond it are dropped and counted. Default 5000. */
  maxPendingSeries: number;
  /** Alerts held while slow; the oldest are dropped beyond it. Default 200 (alerts are rare). */
  maxPendingAlerts: number;
  /** A subscriber over `softBytes` for this long, ms, is cut off (close code 4008). Default 30000. */
  stallMs: number;
}

export const SUBSCRIBER_DEFAULTS: SubscriberLimits = { softBytes: 1024 * 1024, maxPendingSeries: 5000, maxPendingAlerts: 200, stallMs: 30_000 };

/** WebSocket close code for a subscriber too slow to keep (private range 4000–4999, RFC 6455 §7.4.2). */
export const CLOSE_TOO_SLOW = 4008;

export interface SubscriberStats {
  messagesSent: number;
  readingsSent: number;
  /** Readings replaced by a newer value of their series, or dropped, while the subscriber was slow. */
  readingsSampled: number;
  alertsDropped: number;
  cutOff: boolean;
}

/**
 * One live subscriber with a bounded backlog. While its connection keeps up, events go straight
 * out. Once it is `softBytes` behind, readings are merged into a latest-value-per-series map
 * (sampling), status into latest-per-gateway and alerts into a short list; the backlog is sent
 * when it drains. If it stays behind for `stallMs`, it is cut off. Nothing here ever waits on
 * the peer, so ingest never does either.
 */
export class LiveSubscriber implements LiveSink {
  readonly stats: SubscriberStats = { messagesSent: 0, readingsSent: 0, readingsSampled: 0, alertsDropped: 0, cutOff: false };
  private readonly pendingReadings = new Map<string, Map<string, LiveReading>>();
  private pendingSeries = 0;
  private readonly pendingStatus = new Map<string, StatusEvent>();
  private pendingAlerts: AlertEventMessage[] = [];
  private sampledSinceNotice = 0;
  private slowSince: number | null = null;
  private closed = false;

  constructor(
    readonly matcher: LiveMatcher,
    private readonly channel: LiveChannel,
    private readonly limits: SubscriberLimits,
    private readonly now: () => number,
    private readonly onCutOff: (s: LiveSubscriber) => void = () => {},
  ) {}

  get backlogged(): boolean {
    return this.pendingSeries > 0 || this.pendingStatus.size > 0 || this.pendingAlerts.length > 0;
  }

  /** Sends a message that is not part of the stream (hello); bypasses sampling. */
  sendControl(msg: LiveMessage): void {
    if (!this.closed) this.write(msg);
  }

  deliver(event: LiveEvent): void {
    if (this.closed) return;
    if (!this.backlogged && this.channel.bufferedAmount <= this.limits.softBytes) {
      this.write(event);
      return;
    }
    if (this.slowSince === null) this.slowSince = this.now();
    this.hold(event);
  }

  tick(nowMs: number): void {
    if (this.closed) return;
    if (this.channel.bufferedAmount > this.limits.softBytes) {
      if (this.slowSince === null) this.slowSince = nowMs;
      else if (nowMs - this.slowSince >= this.limits.stallMs) this.cutOff();
      return;
    }
    if (this.backlogged) this.flush();
    this.slowSince = null;
  }

  close(): void {
    this.closed = true;
    this.pendingReadings.clear();
    this.pendingStatus.clear();
    this.pendingAlerts = [];
    this.pendingSeries = 0;
  }

  private cutOff(): void {
    this.stats.cutOff = true;
    this.close();
    this.channel.cutOff(CLOSE_TOO_SLOW, 'subscriber too slow');
    this.onCutOff(this);
  }

  private hold(event: LiveEvent): void {
    if (event.type === 'status') {
      this.pendingStatus.set(event.gateway, event);
    } else if (event.type === 'alert') {
      this.pendingAlerts.push(event);
      if (this.pendingAlerts.length > this.limits.maxPendingAlerts) {
        this.pendingAlerts.shift();
        this.stats.alertsDropped++;
      }
    } else {
      let perSeries = this.pendingReadings.get(event.gateway);
      for (const r of event.readings) {
        const had = perSeries?.get(r.series);
        if (had !== undefined) {
          this.count(1);
          if (r.ts >= had.ts) perSeries!.set(r.series, r);
          continue;
        }
        if (this.pendingSeries >= this.limits.maxPendingSeries) {
          this.count(1);
          continue;
        }
        if (perSeries === undefined) {
          perSeries = new Map();
          this.pendingReadings.set(event.gateway, perSeries);
        }
        perSeries.set(r.series, r);
        this.pendingSeries++;
      }
    }
  }

  private count(n: number): void {
    this.stats.readingsSampled += n;
    this.sampledSinceNotice += n;
  }

  /** Alerts first: they are what a person watching must not miss. */
  private flush(): void {
    const alerts = this.pendingAlerts;
    this.pendingAlerts = [];
    for (const a of alerts) this.write(a);
    for (const s of this.pendingStatus.values()) this.write(s);
    this.pendingStatus.clear();
    for (const [gateway, perSeries] of this.pendingReadings) this.write({ type: 'readings', gateway, readings: [...perSeries.values()] });
    this.pendingReadings.clear();
    this.pendingSeries = 0;
    if (this.sampledSinceNotice > 0) {
      this.write({ type: 'sampled', dropped: this.sampledSinceNotice });
      this.sampledSinceNotice = 0;
    }
  }

  private write(msg: LiveMessage): void {
    this.channel.send(JSON.stringify(msg));
    this.stats.messagesSent++;
    if (msg.type === 'readings') this.stats.readingsSent += msg.readings.length;
  }
}
