/**
 * Updates waiting to be piggybacked on outgoing packets (memberlist's TransmitLimitedQueue).
 * One entry per member: a newer update about a member replaces the older one. Each entry is
 * sent at most retransmitMult × ⌈log10(N+1)⌉ times, the fewest-sent first, so fresh news wins
 * the space in a full datagram.
 */
interface Entry {
  key: string;
  msg: Buffer;
  transmits: number;
  id: number;
}

export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1));
}

export class BroadcastQueue {
  private entries = new Map<string, Entry>();
  private nextId = 0;

  /** Beyond this many queued entries the most-sent are dropped (a storm of churn must not grow memory without bound). */
  constructor(private readonly maxDepth = 4096) {}

  get length(): number {
    return this.entries.size;
  }

  queue(key: string, msg: Buffer): void {
    this.entries.set(key, { key, msg, transmits: 0, id: this.nextId++ });
    if (this.entries.size > this.maxDepth) this.prune();
  }

  /**
   * Takes updates totalling at most `budget` bytes (each costing `overhead` extra), at most
   * `maxParts`, and counts one transmission for each.
   */
  take(budget: number, overhead: number, maxParts: number, limit: number): Buffer[] {
    if (this.entries.size === 0 || maxParts <= 0) return [];
    const sorted = [...this.entries.values()].sort((a, b) => a.transmits - b.transmits || b.id - a.id);
    const out: Buffer[] = [];
    let used = 0;
    for (const e of sorted) {
      if (out.length >= maxParts) break;
      const cost = e.msg.length + overhead;
      if (used + cost > budget) continue;
      used += cost;
      out.push(e.msg);
      e.transmits++;
      if (e.transmits >= limit) this.entries.delete(e.key);
    }
    return out;
  }

  private prune(): void {
    const sorted = [...this.entries.values()].sort((a, b) => b.transmits - a.transmits || a.id - b.id);
    for (const e of sorted.slice(0, this.entries.size - this.maxDepth)) this.entries.delete(e.key);
  }
}
