import type { Clock, Timer } from '@fieldmesh/device-sdk';
import { encodeChunkRequest, MAX_CHUNK_BYTES, parseChunk } from '@fieldmesh/protocol';
import { fetchInto, type BundleDownload, type BundleFetchResult, type BundleTarget, type DownloadFailure, type PartSink } from './bundle-part.js';

/** The uplink as the chunked download sees it (gateway-fleet.ts wires the real one). */
export interface ChunkChannel {
  /** Publishes a chunk request on `fm/g/<id>/fleet/bundle/get` (QoS 1); dropped while offline. */
  request(payload: Buffer): void;
  online(): boolean;
  /** Chunk replies, and every new uplink session once subscribed, until the returned function is called. */
  listen(l: { chunk(payload: Buffer): void; online(): void }): () => void;
}

export interface ChunkFetchOptions extends BundleTarget {
  version: string;
  channel: ChunkChannel;
  clock: Clock;
  /** Bytes per request. Default 128 KiB; at most MAX_CHUNK_BYTES. */
  chunkBytes?: number;
  /** Requests asked and chunks held ahead of the part's end, together. Default 4. */
  window?: number;
  /** No chunk for this long ends the attempt (the part stays for the next). Default 30 s. */
  idleTimeoutMs?: number;
  /** A request unanswered this long is asked again (lost with a session, or dropped by a busy cloud). Default 5 s. */
  resendMs?: number;
}

/**
 * Downloads a release bundle over the uplink connection (protocol/FLEET-FORMAT.md §4): requests
 * for `chunkBytes` at a time, `window` of them in flight, written to the part strictly in order
 * (bundle-part.ts keeps it, bounds it by the signed size and checks the hash). Chunks that arrive
 * early wait in memory, at most `window` of them. A new uplink session asks again for what the
 * old one had in flight, so a cut link resumes where it was, within the same attempt.
 */
export function fetchBundleOverUplink(o: ChunkFetchOptions): Promise<BundleFetchResult> {
  return fetchInto(o, chunkDownload(o));
}

function chunkDownload(o: ChunkFetchOptions): BundleDownload {
  return (sink) => new Promise<DownloadFailure | null>((resolve) => new ChunkAttempt(o, sink, resolve).start());
}

class ChunkAttempt {
  private readonly chunkBytes: number;
  private readonly window: number;
  private readonly idleMs: number;
  private readonly resendMs: number;
  /** Next offset not yet asked for. */
  private next: number;
  /** Offset → when it was (last) asked for. */
  private readonly asked = new Map<number, number>();
  /** Chunks that arrived ahead of the part's end, by offset. */
  private readonly held = new Map<number, Uint8Array>();
  private writing: Promise<void> = Promise.resolve();
  private lastChunk: number;
  private over = false;
  private tick: Timer | null = null;
  private unlisten: () => void = () => {};

  constructor(
    private readonly o: ChunkFetchOptions,
    private readonly sink: PartSink,
    private readonly resolve: (r: DownloadFailure | null) => void,
  ) {
    this.chunkBytes = Math.max(1, Math.min(o.chunkBytes ?? 128 * 1024, MAX_CHUNK_BYTES));
    this.window = Math.max(1, o.window ?? 4);
    this.idleMs = o.idleTimeoutMs ?? 30_000;
    this.resendMs = o.resendMs ?? 5000;
    this.next = sink.have;
    this.lastChunk = o.clock.monotonic();
  }

  start(): void {
    if (this.o.signal?.aborted) return this.end({ reason: 'fetch-failed', why: `download stopped: ${reasonOf(this.o.signal)}` });
    this.o.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.unlisten = this.o.channel.listen({ chunk: (p) => this.onChunk(p), online: () => this.onOnline() });
    this.schedule();
    if (this.o.channel.online()) this.fill();
  }

  private readonly onAbort = () => this.end({ reason: 'fetch-failed', why: `download stopped at byte ${this.sink.have} of ${this.o.bytes}: ${reasonOf(this.o.signal!)}` });

  private size(offset: number): number {
    return Math.min(this.chunkBytes, this.o.bytes - offset);
  }

  private ask(offset: number): void {
    this.asked.set(offset, this.o.clock.monotonic());
    this.o.channel.request(encodeChunkRequest({ version: this.o.version, offset, length: this.size(offset) }));
  }

  private fill(): void {
    while (!this.over && this.asked.size + this.held.size < this.window && this.next < this.o.bytes) {
      this.ask(this.next);
      this.next += this.size(this.next);
    }
  }

  /** A new session: what the old one had in flight is gone; the idle time starts again. */
  private onOnline(): void {
    if (this.over) return;
    this.lastChunk = this.o.clock.monotonic();
    for (const offset of [...this.asked.keys()]) this.ask(offset);
    this.fill();
  }

  private onChunk(payload: Buffer): void {
    if (this.over) return;
    const p = parseChunk(payload);
    if (!p.ok) return this.end({ reason: 'fetch-failed', why: `the cloud sent a malformed chunk: ${p.why}` });
    const c = p.value;
    // A chunk of another version (an attempt before this one) or already had (asked twice): not ours.
    if (c.version !== this.o.version || !this.asked.has(c.offset)) return;
    if (c.kind === 'refusal') {
      // A busy cloud: asked again after resendMs.
      if (c.reason === 'busy') return void this.asked.set(c.offset, this.o.clock.monotonic());
      return this.end({ reason: 'fetch-failed', why: `the cloud refused bytes ${c.offset}+ of ${this.o.version}: ${c.reason}: ${c.why}` });
    }
    if (c.total !== this.o.bytes) return this.end({ reason: 'fetch-failed', why: `the cloud's bundle ${this.o.version} is ${c.total} bytes, the signed one ${this.o.bytes}` });
    if (c.data.length !== this.size(c.offset)) return this.end({ reason: 'fetch-failed', why: `the chunk at byte ${c.offset} has ${c.data.length} bytes, not the ${this.size(c.offset)} asked for` });
    this.asked.delete(c.offset);
    this.held.set(c.offset, c.data);
    this.lastChunk = this.o.clock.monotonic();
    this.writing = this.writing.then(() => this.flush());
  }

  /** Appends the held chunks that continue the part, in order; then asks for more. */
  private async flush(): Promise<void> {
    try {
      for (let c = this.held.get(this.sink.have); !this.over && c !== undefined; c = this.held.get(this.sink.have)) {
        this.held.delete(this.sink.have);
        if (!(await this.sink.append(c))) return this.end({ reason: 'hash-mismatch', why: `the cloud sent more than the signed ${this.o.bytes} bytes` });
      }
    } catch (err) {
      return this.end({ reason: 'fetch-failed', why: `bundle part not written at byte ${this.sink.have}: ${(err as Error).message}` });
    }
    if (this.sink.have >= this.o.bytes) return this.end(null);
    this.fill();
  }

  private schedule(): void {
    const t = this.o.clock.setTimeout(() => this.onTick(), Math.max(10, Math.min(this.resendMs, this.idleMs) / 2));
    t.unref?.();
    this.tick = t;
  }

  private onTick(): void {
    this.tick = null;
    if (this.over) return;
    const now = this.o.clock.monotonic();
    if (now - this.lastChunk >= this.idleMs) {
      return this.end({ reason: 'fetch-failed', why: `no chunk for ${this.idleMs} ms at byte ${this.sink.have} of ${this.o.bytes} (resumes from there)` });
    }
    for (const [offset, at] of this.asked) if (now - at >= this.resendMs) this.ask(offset);
    this.schedule();
  }

  /** Ends the attempt once the writes under way are done (the part is closed after). */
  private end(r: DownloadFailure | null): void {
    if (this.over) return;
    this.over = true;
    if (this.tick !== null) this.o.clock.clearTimeout(this.tick);
    this.unlisten();
    this.o.signal?.removeEventListener('abort', this.onAbort);
    this.held.clear();
    void this.writing.then(() => this.resolve(r));
  }
}

function reasonOf(signal: AbortSignal): string {
  const r = signal.reason as Error | undefined;
  return r?.message ?? 'aborted';
}
