/**
 * Time is injected everywhere, so tests drive it instead of sleeping: probing, suspicion, backoff, batching and
 * retention take a Clock, and tests drive a ManualClock instead of sleeping.
 */
export interface Clock {
  /** Wall-clock milliseconds since the Unix epoch. May jump (NTP, no RTC on a Pi). */
  now(): number;
  /** Milliseconds on a clock that never goes backwards; origin unspecified. */
  monotonic(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(timer: Timer): void;
}

export interface Timer {
  /** Lets the process exit while this timer is pending (Node `unref`). No-op on a ManualClock. */
  unref?(): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
};

interface Pending extends Timer {
  at: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that moves only when told to; timers fire in time order inside `advance`. */
export class ManualClock implements Clock {
  private wall: number;
  private mono = 0;
  private order = 0;
  private timers: Pending[] = [];

  constructor(startWallMs = Date.UTC(2026, 0, 1)) {
    this.wall = startWallMs;
  }

  now(): number {
    return this.wall;
  }

  monotonic(): number {
    return this.mono;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const t: Pending = { at: this.mono + Math.max(0, ms), order: this.order++, fn, cancelled: false };
    this.timers.push(t);
    return t;
  }

  clearTimeout(timer: Timer): void {
    (timer as Pending).cancelled = true;
  }

  /** Moves both clocks forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.mono + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: Pending | undefined;
      for (const t of this.timers) {
        if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.order < next.order))) next = t;
      }
      if (!next) break;
      this.wall += next.at - this.mono;
      this.mono = next.at;
      next.cancelled = true;
      next.fn();
    }
    this.wall += end - this.mono;
    this.mono = end;
  }

  /** Steps only the wall clock, as NTP or a user does; monotonic time is untouched. */
  setWall(ms: number): void {
    this.wall = ms;
  }

  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}
