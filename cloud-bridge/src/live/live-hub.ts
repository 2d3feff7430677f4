import type { Clock, Timer } from '@fieldmesh/device-sdk';
import type { LiveMatcher } from './live-filter.js';
import { jsonValue, type AlertEventMessage, type LiveEvent, type LiveReading, type StatusEvent } from './live-event.js';

/** Something that receives live events already filtered by its matcher. */
export interface LiveSink {
  readonly matcher: LiveMatcher;
  deliver(event: LiveEvent): void;
  /** Called every tick: a sink with a backlog flushes it or gives up on a stalled peer here. */
  tick?(nowMs: number): void;
}

export interface LiveHubStats {
  readingEvents: number;
  statusEvents: number;
  alertEvents: number;
  subscribers: number;
}

/**
 * Fans committed readings, gateway status and alerts out to live subscribers. Delivery is
 * synchronous and never blocks: each sink bounds its own backlog (LiveSubscriber), so a slow
 * subscriber cannot hold up a commit or the ack that follows it.
 */
export class LiveHub {
  readonly stats: LiveHubStats = { readingEvents: 0, statusEvents: 0, alertEvents: 0, subscribers: 0 };
  private readonly sinks = new Set<LiveSink>();
  private timer: Timer | null = null;

  constructor(
    private readonly clock: Clock,
    /** How often sinks get to flush their backlog, ms. 100 ms keeps charts smooth without busy work. */
    private readonly tickMs = 100,
  ) {}

  add(sink: LiveSink): () => void {
    this.sinks.add(sink);
    this.stats.subscribers = this.sinks.size;
    this.schedule();
    return () => {
      this.sinks.delete(sink);
      this.stats.subscribers = this.sinks.size;
    };
  }

  /** Readings newly committed from one gateway's batch. */
  readings(gateway: string, readings: readonly LiveReading[]): void {
    if (this.sinks.size === 0 || readings.length === 0) return;
    this.stats.readingEvents++;
    const all = readings.map((r) => {
      const out: LiveReading = { series: r.series, ts: r.ts, value: jsonValue(r.value) };
      if (r.unit !== undefined) out.unit = r.unit;
      return out;
    });
    for (const sink of this.sinks) {
      const m = sink.matcher;
      if (!m.wants('readings') || !m.gateway(gateway)) continue;
      const mine = m.filter.series.length === 0 ? all : all.filter((r) => m.seriesName(r.series));
      if (mine.length > 0) sink.deliver({ type: 'readings', gateway, readings: mine });
    }
  }

  status(event: Omit<StatusEvent, 'type'>): void {
    this.stats.statusEvents++;
    const e: StatusEvent = { type: 'status', ...event };
    for (const sink of this.sinks) if (sink.matcher.wants('status') && sink.matcher.gateway(e.gateway)) sink.deliver(e);
  }

  alert(gateway: string, alert: Record<string, unknown>): void {
    this.stats.alertEvents++;
    const e: AlertEventMessage = { type: 'alert', gateway, alert };
    const series = typeof alert.series === 'string' ? alert.series : '';
    for (const sink of this.sinks) {
      const m = sink.matcher;
      if (m.wants('alerts') && m.gateway(gateway) && m.seriesName(series)) sink.deliver(e);
    }
  }

  private schedule(): void {
    if (this.timer !== null) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      const now = this.clock.monotonic();
      for (const sink of this.sinks) sink.tick?.(now);
      if (this.sinks.size > 0) this.schedule();
    }, this.tickMs);
    this.timer.unref?.();
  }

  close(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.sinks.clear();
    this.stats.subscribers = 0;
  }
}
