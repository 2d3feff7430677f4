import type { Clock, Timer } from '@fieldmesh/device-sdk';

/** Something with a deadline in the wheel. The wheel owns `slot` and `deadline`. */
export interface WheelEntry {
  /** Slot number while scheduled, -1 otherwise. */
  slot: number;
  deadline: number;
}

/**
 * Deadline scheduling for staleness: thousands of entries (rule × series) each with a deadline
 * that moves forward on every reading. A reading costs O(1) with no allocation (move the entry
 * between two slot sets, often the same one); the clock holds ONE timer, armed for the earliest
 * non-empty slot; a firing visits only due slots. No periodic scan of all entries.
 *
 * Deadlines are in monotonic ms (`Clock.monotonic`): staleness is about gateway time passing,
 * and the wall clock may jump. Slots are `resolutionMs` wide; an entry fires at the end of its
 * slot, so at most `resolutionMs` late, never early.
 */
export class DeadlineWheel<E extends WheelEntry> {
  private readonly slots = new Map<number, Set<E>>();
  /** Min-heap of slot numbers; each slot is pushed once, when its set is created. */
  private readonly heap: number[] = [];
  private timer: Timer | undefined;
  private armedSlot = -1;
  private count = 0;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: (entry: E) => void,
    private readonly resolutionMs = 250,
  ) {}

  get size(): number {
    return this.count;
  }

  schedule(e: E, deadline: number): void {
    e.deadline = deadline;
    const slot = Math.ceil(deadline / this.resolutionMs);
    if (e.slot === slot) return;
    if (e.slot !== -1) this.slots.get(e.slot)?.delete(e);
    else this.count++;
    let set = this.slots.get(slot);
    if (!set) {
      set = new Set();
      this.slots.set(slot, set);
      this.push(slot);
    }
    set.add(e);
    e.slot = slot;
    if (this.heap[0] === slot && this.armedSlot !== slot) this.arm();
  }

  cancel(e: E): void {
    if (e.slot === -1) return;
    this.slots.get(e.slot)?.delete(e);
    e.slot = -1;
    this.count--;
  }

  stop(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedSlot = -1;
  }

  private arm(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedSlot = -1;
    const top = this.heap[0];
    if (top === undefined) return;
    this.armedSlot = top;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, top * this.resolutionMs - this.clock.monotonic()));
    this.timer.unref?.();
  }

  private fire(): void {
    this.timer = undefined;
    this.armedSlot = -1;
    const now = this.clock.monotonic();
    while (this.heap.length > 0 && this.heap[0]! * this.resolutionMs <= now) {
      const slot = this.pop()!;
      const set = this.slots.get(slot);
      this.slots.delete(slot);
      if (!set) continue;
      for (const e of set) {
        e.slot = -1;
        this.count--;
        this.onDue(e);
      }
    }
    this.arm();
  }

  private push(slot: number): void {
    const h = this.heap;
    h.push(slot);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]! <= h[i]!) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private pop(): number | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]! < h[m]!) m = l;
        if (r < h.length && h[r]! < h[m]!) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
