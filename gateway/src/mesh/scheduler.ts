import type { Clock, Timer } from '@fieldmesh/device-sdk';

/**
 * A virtual clock for the simulator: timers live in a binary heap and fire in (time, insertion)
 * order, so a thousand members for a virtual hour (tens of millions of events) run in minutes
 * and every run replays exactly. ManualClock (device-sdk) filters an array on every step, which
 * is fine for a few timers and far too slow here.
 */
interface Event extends Timer {
  at: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

export class VirtualScheduler implements Clock {
  private heap: Event[] = [];
  private order = 0;
  private mono = 0;
  /** Events fired so far: a measure of simulator work. */
  fired = 0;

  constructor(private readonly wallOrigin = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.wallOrigin + this.mono;
  }

  monotonic(): number {
    return this.mono;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const e: Event = { at: this.mono + Math.max(0, ms), order: this.order++, fn, cancelled: false };
    this.push(e);
    return e;
  }

  clearTimeout(timer: Timer): void {
    (timer as Event).cancelled = true;
  }

  /** Runs every event due up to `mono + ms`, then sets the clock there. */
  advance(ms: number): void {
    this.runUntil(this.mono + ms);
  }

  runUntil(end: number): void {
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.at <= end) {
      const e = this.pop();
      if (e.cancelled) continue;
      this.mono = e.at;
      e.cancelled = true;
      this.fired++;
      e.fn();
    }
    if (end > this.mono) this.mono = end;
  }

  pending(): number {
    return this.heap.filter((e) => !e.cancelled).length;
  }

  private less(a: Event, b: Event): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }

  private push(e: Event): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Event {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
