/**
 * The offline buffer holds every message from publish() until the gateway acknowledged it
 * (PUBACK, sent by the gateway after its durable commit). Bounded: when full, the OLDEST message
 * is dropped and counted — for sensor data the newest readings are worth most, and a bounded
 * buffer keeps a long outage from filling a bridge's flash (AWS Greengrass drops the oldest too;
 * Eclipse Kura and ThingsBoard reject new). Two implementations: in memory, and a journal file
 * that survives a restart of the bridge process (FileOfflineBuffer, file-buffer.ts).
 */
export interface BufferedMessage {
  /** Per-device message number (`fm_seq`), increasing. */
  seq: number;
  /** SenML JSON pack, ready to publish. */
  payload: string;
}

export interface BufferLimits {
  /** Messages held at most. Default 10 000 (≈ 3 h of one message per second). */
  maxMessages: number;
  /** Payload bytes held at most. Default 16 MiB. */
  maxBytes: number;
}

export const DEFAULT_BUFFER_LIMITS: BufferLimits = { maxMessages: 10_000, maxBytes: 16 * 1024 * 1024 };

export interface OfflineBuffer {
  /** Appends a message (seq above every buffered one); returns how many old messages were dropped to make room. */
  push(msg: BufferedMessage): number;
  /** Up to `n` messages with seq > `after`, oldest first. */
  after(after: number, n: number): BufferedMessage[];
  /** Removes the message (acknowledged); unknown seqs are ignored. */
  ack(seq: number): void;
  readonly size: number;
  readonly bytes: number;
  /** Messages dropped for room since this buffer was created. */
  readonly dropped: number;
  /** Highest seq ever pushed (also across restarts for a file buffer); -1 if none. */
  readonly highestSeq: number;
  close(): void;
}

export class MemoryOfflineBuffer implements OfflineBuffer {
  protected items: BufferedMessage[] = [];
  protected head = 0;
  protected acked = new Set<number>();
  private byteCount = 0;
  private droppedCount = 0;
  protected highest = -1;
  protected readonly limits: BufferLimits;

  constructor(limits: Partial<BufferLimits> = {}) {
    this.limits = { ...DEFAULT_BUFFER_LIMITS, ...limits };
  }

  get size(): number {
    return this.items.length - this.head - this.acked.size;
  }
  get bytes(): number {
    return this.byteCount;
  }
  get dropped(): number {
    return this.droppedCount;
  }
  get highestSeq(): number {
    return this.highest;
  }

  push(msg: BufferedMessage): number {
    // Kept in seq order (after() binary-searches): a number at or below a live one is a bug.
    const last = this.items[this.items.length - 1];
    if (this.size > 0 && last && msg.seq <= last.seq) throw new RangeError(`offline buffer: seq ${msg.seq} is not above ${last.seq}`);
    this.items.push(msg);
    this.byteCount += msg.payload.length;
    this.highest = Math.max(this.highest, msg.seq);
    this.onPush(msg);
    let dropped = 0;
    while (this.size > 1 && (this.size > this.limits.maxMessages || this.byteCount > this.limits.maxBytes)) {
      const oldest = this.firstLive();
      this.remove(oldest.seq);
      this.onGone(oldest.seq);
      dropped++;
    }
    this.droppedCount += dropped;
    return dropped;
  }

  after(after: number, n: number): BufferedMessage[] {
    const out: BufferedMessage[] = [];
    // Messages are in seq order; binary search the first seq > after.
    let lo = this.head;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.items[mid]!.seq <= after) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.items.length && out.length < n; i++) {
      const m = this.items[i]!;
      if (!this.acked.has(m.seq)) out.push(m);
    }
    return out;
  }

  ack(seq: number): void {
    if (this.remove(seq)) this.onGone(seq);
  }

  close(): void {}

  /** Hooks for the journal file. */
  protected onPush(_msg: BufferedMessage): void {}
  protected onGone(_seq: number): void {}

  private firstLive(): BufferedMessage {
    for (let i = this.head; ; i++) if (!this.acked.has(this.items[i]!.seq)) return this.items[i]!;
  }

  private remove(seq: number): boolean {
    const live = this.items.length - this.head;
    if (live === 0 || this.acked.has(seq) || seq < this.items[this.head]!.seq || seq > this.items[this.items.length - 1]!.seq) return false;
    const found = this.after(seq - 1, 1)[0];
    if (!found || found.seq !== seq) return false;
    this.acked.add(seq);
    this.byteCount -= found.payload.length;
    while (this.head < this.items.length && this.acked.has(this.items[this.head]!.seq)) {
      this.acked.delete(this.items[this.head]!.seq);
      this.head++;
    }
    // Compact the array now and then instead of shifting on every ack.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return true;
  }
}
