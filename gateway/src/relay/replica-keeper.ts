import type { Clock, Logger, Timer } from '@fieldmesh/device-sdk';
import { decodeBatchHeader, isEpoch, type AckMessage } from '@fieldmesh/protocol';
import type { RelayChannel, RelayFrame } from './relay-channel.js';
import { FRAME_REPLICA_ACK, FRAME_REPLICA_OPEN, FRAME_REPLICATE, FRAME_WATERMARK } from './relay-frame.js';
import type { RelayPeers } from './relay-peers.js';
import type { RelayServer, ReplicationEndpoint } from './relay-server.js';
import type { ReplicaStore } from './replica-store.js';
import { StepLoop } from './step-loop.js';

export interface ReplicaKeeperOptions {
  store: ReplicaStore;
  server: RelayServer;
  /** Live members: an origin absent from this list (and not connected) counts as dead. */
  peers: RelayPeers;
  clock: Clock;
  logger: Logger;
  /** ms an origin must have been dead before its replica is uploaded. Default 30000. */
  deadAfterMs?: number;
  /** ms between checks. Default 1000. */
  tickMs?: number;
  /** ms before an upload without an ack is tried again. Default 30000. */
  uploadRetryMs?: number;
  /**
   * ms the first received batch waits for others before the commit (one transaction, one fsync,
   * for all of them). Default 10. Why: with synchronous=FULL every commit is an fsync, and the
   * fsync, not the insert, was most of the buddy's CPU (about 0.19 µs per reading at one
   * 2000-reading batch per commit, 0.04 µs at four). 0 commits on the next I/O turn.
   */
  commitGroupMs?: number;
  /** Batches that commit at once without waiting for the group time. Default 16. */
  commitGroupBatches?: number;
}

export interface ReplicaKeeperStats {
  origins: Array<{ origin: string; epoch: string; storedSeq: number; ackedSeq: number; batches: number; bytes: number; uploading: boolean }>;
  batchesStored: number;
  batchesUploaded: number;
  batchesUploadAcked: number;
  refused: number;
}

/**
 * The buddy side of backlog replication (RELAY.md §7): commits each replicated batch durably and
 * only then answers, trims at the origin's watermark, and, once an origin has been dead for
 * `deadAfterMs`, uploads its replica through this gateway's uplink as relayed batches under the
 * origin's `(gateway, epoch, seq)`: the cloud dedupes whatever the origin had already delivered.
 */
export class ReplicaKeeper implements ReplicationEndpoint {
  private readonly origins = new Map<RelayChannel, { origin: string; epoch: string }>();
  private readonly deadSince = new Map<string, number>();
  /** `${origin}/${epoch}/${firstSeq}` → when it was queued for upload. */
  private readonly uploading = new Map<string, number>();
  private readonly loop: StepLoop;
  /** Batches received this I/O turn, committed together (one fsync for a burst of a window). */
  private pending: Array<{ channel: RelayChannel; origin: string; epoch: string; firstSeq: number; lastSeq: number; payload: Buffer }> = [];
  readonly stats = { batchesStored: 0, batchesUploaded: 0, batchesUploadAcked: 0, refused: 0 };
  private readonly deadAfterMs: number;
  private readonly tickMs: number;
  private readonly uploadRetryMs: number;
  private readonly commitGroupMs: number;
  private readonly commitGroupBatches: number;
  private commitTimer: Timer | null = null;

  constructor(private readonly opts: ReplicaKeeperOptions) {
    this.deadAfterMs = opts.deadAfterMs ?? 30_000;
    this.tickMs = opts.tickMs ?? 1000;
    this.loop = new StepLoop({
      clock: opts.clock,
      everyMs: this.tickMs,
      step: () => this.step(),
      onError: (err) => this.opts.logger.warn({ component: 'replication', err: err.message }, 'replica check failed; retrying'),
    });
    this.uploadRetryMs = opts.uploadRetryMs ?? 30_000;
    this.commitGroupMs = opts.commitGroupMs ?? 10;
    this.commitGroupBatches = opts.commitGroupBatches ?? 16;
    opts.server.replication = this;
    opts.server.onAck((origin, ack) => this.onAck(origin, ack));
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
    if (this.commitTimer) this.opts.clock.clearTimeout(this.commitTimer);
    this.commitTimer = null;
    // Received but not committed: never answered, so their origins resend them.
    this.pending = [];
  }

  snapshot(): ReplicaKeeperStats {
    const uploadingOrigins = new Set([...this.uploading.keys()].map((k) => k.split('/')[0]));
    return { origins: this.opts.store.origins().map((o) => ({ ...o, uploading: uploadingOrigins.has(o.origin) })), ...this.stats };
  }

  frame(channel: RelayChannel, f: RelayFrame): void {
    const origin = channel.peerId!;
    try {
      if (f.type === FRAME_REPLICA_OPEN || f.type === FRAME_WATERMARK) {
        const m = JSON.parse(f.body.toString('utf8')) as { epoch?: unknown; ackedSeq?: unknown };
        if (!isEpoch(m.epoch) || typeof m.ackedSeq !== 'number' || !Number.isSafeInteger(m.ackedSeq) || m.ackedSeq < 0) throw new Error('bad replica open/watermark');
        this.origins.set(channel, { origin, epoch: m.epoch });
        const stored = this.opts.store.open(origin, m.epoch, m.ackedSeq);
        if (f.type === FRAME_REPLICA_OPEN) this.answer(channel, m.epoch, stored);
        return;
      }
      if (f.type === FRAME_REPLICATE) {
        const session = this.origins.get(channel);
        if (!session) throw new Error('replicate before open');
        const h = decodeBatchHeader(f.body);
        if (h.gatewayId !== origin || h.epoch !== session.epoch) throw new Error(`batch of ${h.gatewayId}/${h.epoch} on ${origin}'s channel`);
        // Committed (synchronous=FULL) before the answer: the answer is the promise.
        this.pending.push({ channel, origin, epoch: h.epoch, firstSeq: h.firstSeq, lastSeq: h.lastSeq, payload: Buffer.from(f.body) });
        if (this.pending.length >= this.commitGroupBatches) this.commitPending();
        else if (this.pending.length === 1) {
          if (this.commitGroupMs === 0) setImmediate(() => this.commitPending());
          else this.commitTimer = this.opts.clock.setTimeout(() => this.commitPending(), this.commitGroupMs);
        }
        return;
      }
      throw new Error(`unexpected frame type ${f.type}`);
    } catch (err) {
      this.stats.refused++;
      channel.close(`replication: ${(err as Error).message}`);
    }
  }

  private commitPending(): void {
    if (this.commitTimer) this.opts.clock.clearTimeout(this.commitTimer);
    this.commitTimer = null;
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    let stored: number[];
    try {
      stored = this.opts.store.putMany(items);
    } catch (err) {
      // Disk full or I/O error: nothing answered, so the origins resend; drop their channels so
      // they resume from what is really held.
      this.opts.logger.error({ component: 'replication', err: (err as Error).message }, 'replica commit failed');
      for (const i of items) i.channel.close('replica commit failed');
      return;
    }
    this.stats.batchesStored += items.length;
    items.forEach((i, k) => this.answer(i.channel, i.epoch, stored[k]!));
  }

  closed(channel: RelayChannel): void {
    this.origins.delete(channel);
  }

  private answer(channel: RelayChannel, epoch: string, storedSeq: number): void {
    channel.send(FRAME_REPLICA_ACK, Buffer.from(JSON.stringify({ epoch, storedSeq })));
  }

  private step(): void {
    const now = this.opts.clock.monotonic();
    const alive = new Set(this.opts.peers.list().map((p) => p.id));
    for (const s of this.origins.values()) alive.add(s.origin);
    for (const o of this.opts.store.origins()) {
      if (alive.has(o.origin) || o.batches === 0) {
        this.deadSince.delete(o.origin);
        continue;
      }
      const since = this.deadSince.get(o.origin) ?? now;
      this.deadSince.set(o.origin, since);
      if (now - since < this.deadAfterMs || !this.opts.server.upstreamOnline) continue;
      for (const b of this.opts.store.batches(o.origin, o.epoch, 64)) {
        const key = `${o.origin}/${o.epoch}/${b.firstSeq}`;
        const at = this.uploading.get(key);
        if (at !== undefined && now - at < this.uploadRetryMs) continue;
        if (!this.opts.server.upload(o.origin, b.payload, { epoch: o.epoch, firstSeq: b.firstSeq, lastSeq: b.lastSeq })) break;
        if (at === undefined) this.opts.logger.info({ component: 'replication', origin: o.origin, firstSeq: b.firstSeq }, 'origin dead: uploading its replica');
        this.uploading.set(key, now);
        this.stats.batchesUploaded++;
      }
    }
  }

  private onAck(origin: string, ack: AckMessage): void {
    if (!ack.ok) return;
    const key = `${origin}/${ack.epoch}/${ack.firstSeq}`;
    if (this.uploading.delete(key)) this.stats.batchesUploadAcked++;
    // Whoever delivered it (our upload or a relay), the cloud has it now.
    this.opts.store.remove(origin, ack.epoch, ack.firstSeq);
  }
}
