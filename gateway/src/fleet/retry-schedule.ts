import type { Clock, Timer } from '@fieldmesh/device-sdk';
import { ReconnectBackoff } from '../uplink/reconnect-backoff.js';

/**
 * When a failed fleet job is tried again: doubling from `baseMs` up to 16×, with half of each
 * delay random (ReconnectBackoff's equal jitter), so gateways that failed against the same cloud
 * at the same moment do not all come back at the same moment. One timer at a time.
 */
export class RetrySchedule {
  private timer: Timer | null = null;
  private readonly backoff: ReconnectBackoff;

  constructor(
    private readonly clock: Clock,
    baseMs: number,
    random?: () => number,
  ) {
    this.backoff = new ReconnectBackoff(baseMs, baseMs * 16, random);
  }

  /** Runs `fn` after the next delay, unless a retry is already scheduled. */
  schedule(fn: () => void): void {
    if (this.timer !== null) return;
    const t = this.clock.setTimeout(() => {
      this.timer = null;
      fn();
    }, this.backoff.next());
    t.unref?.();
    this.timer = t;
  }

  /** Something changed (a new desired state): the next failure waits the shortest delay again. */
  reset(): void {
    this.backoff.reset();
  }

  stop(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
