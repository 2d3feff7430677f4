import type { Clock } from '@fieldmesh/device-sdk';

/**
 * Readings acked per second over a sliding window (default 30 s, in 1 s slots on the monotonic
 * clock, so a wall-clock jump does not distort it), and the backlog's ETA at that rate.
 */
export class DrainMeter {
  private readonly slots: number[];
  private slotAt: number;
  private readonly startedAt: number;

  constructor(
    private readonly clock: Clock,
    readonly windowMs = 30_000,
    private readonly slotMs = 1000,
  ) {
    this.slots = new Array<number>(Math.max(1, Math.ceil(windowMs / slotMs))).fill(0);
    this.startedAt = clock.monotonic();
    this.slotAt = Math.floor(this.startedAt / slotMs);
  }

  private roll(): void {
    const now = Math.floor(this.clock.monotonic() / this.slotMs);
    const steps = Math.min(this.slots.length, now - this.slotAt);
    for (let i = 0; i < steps; i++) {
      this.slots.shift();
      this.slots.push(0);
    }
    if (now > this.slotAt) this.slotAt = now;
  }

  record(readings: number): void {
    this.roll();
    this.slots[this.slots.length - 1]! += readings;
  }

  /** Readings per second over the window (over the time elapsed, while younger than the window). */
  rate(): number {
    this.roll();
    const total = this.slots.reduce((a, b) => a + b, 0);
    const span = Math.min(this.windowMs, Math.max(this.slotMs, this.clock.monotonic() - this.startedAt));
    return (total * 1000) / span;
  }

  /** Seconds to drain `backlog` at the current rate; null when nothing drains (rate 0) and there is a backlog. */
  etaSeconds(backlog: number): number | null {
    if (backlog <= 0) return 0;
    const r = this.rate();
    return r > 0 ? Math.ceil(backlog / r) : null;
  }
}
