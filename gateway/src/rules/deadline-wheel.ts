import type { Clock, Timer } from '@fieldmesh/device-sdk/clock';

/**
 * Deadline scheduling for staleness: thousands of keys (rule × series) each with a deadline that
 * moves forward on every reading. A reading costs O(1) (move the key between two slot sets); the
 * clock holds ONE timer, armed for the earliest non-empty slot; a firing visits only due slots.
 * No periodic scan of all keys.
 *
 * Deadlines are in monotonic ms (`Clock.monotonic`): staleness is about gateway time passing,
 * and the wall clock may jump. Slots are `resolutionMs` wide; a key fires at the end of its slot,
 * so at most `resolutionMs` late, never early.
 */
export class DeadlineWheel {
  private readonly slots = new Map<number, Set<string>>();
  private readonly slotOf = new Map<string, number>();
  private readonly deadlineOf = new Map<string, number>();
  /** Min-heap of slot numbers; each slot is pushed once, when its set is created. */
  private readonly heap: number[] = [];
  private timer: Timer | undefined;
  private armedSlot = -1;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: (key: string) => void,
    private readonly resolutionMs = 250,
  ) {}

  get size(): number {
    return this.deadlineOf.size;
  }

  has(key: string): boolean {
    return this.deadlineOf.has(key);
  }

  schedule(key: string, deadline: number): void {
    const slot = Math.ceil(deadline / this.resolutionMs);
    this.deadlineOf.set(key, deadline);
    const old = this.slotOf.get(key);
    if (old === slot) return;
    if (old !== undefined) this.slots.get(old)?.delete(key);
    let set = this.slots.get(slot);
    if (!set) {
      set = new Set();
      this.slots.set(slot, set);
      this.push(slot);
    }
    set.add(key);
    this.slotOf.set(key, slot);
    if (this.heap[0] === slot && this.armedSlot !== slot) this.arm();
  }

  cancel(key: string): void {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return;
    this.slots.get(slot)?.delete(key);
    this.slotOf.delete(key);
    this.deadlineOf.delete(key);
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
      for (const key of set) {
        this.slotOf.delete(key);
        this.deadlineOf.delete(key);
        this.onDue(key);
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
