import { connect } from 'node:net';
import type { Clock, Logger, Timer, Reading } from '@fieldmesh/device-sdk';
import type { LoggedReading, ReadingLog } from '../store/reading-log.js';
import { encodeBatch, type BatchSign } from '@fieldmesh/protocol';
import { pickBuddies } from './buddies.js';
import { RecentReadings } from './recent-readings.js';
import { RelayError } from './errors.js';
import { StepLoop } from './step-loop.js';
import { RelayChannel, type RelayCredentials } from './relay-channel.js';
import { FRAME_REPLICA_ACK, FRAME_REPLICA_OPEN, FRAME_REPLICATE, FRAME_WATERMARK } from './relay-frame.js';
import type { RelayPeer, RelayPeers } from './relay-peers.js';

export interface ReplicatorOptions {
  selfId: string;
  /** Signs each batch as its origin: a buddy that uploads our replica cannot change a reading. */
  sign?: BatchSign;
  log: ReadingLog;
  peers: RelayPeers;
  credentials: RelayCredentials;
  clock: Clock;
  logger: Logger;
  /** Buddies holding a copy of the unacknowledged tail. Default 1; 0 turns replication off. */
  k?: number;
  /** Batches sent to a buddy and not yet committed by it. Default 4. */
  window?: number;
  /**
   * Readings per replicated batch at most. Default 8000: fewer, larger batches mean fewer frames,
   * acks and buddy transactions (a batch is also halved until it is under 1 MiB).
   */
  batchReadings?: number;
  /** ms between checks (buddy set, watermark, lag). Default 500. */
  tickMs?: number;
  /** ms a buddy that failed is skipped. Default 5000. */
  peerBackoffMs?: number;
  /**
   * ms new readings wait before they are copied. Default 200: a working uplink acks most of them
   * within that, so they are never copied at all (replication costs CPU and disk only while
   * delivery lags), and the copies that do go are larger batches. 0 copies at once.
   */
  lingerMs?: number;
  /** Readings of the freshest commits kept in memory for buddies that keep up. Default 50000; 0 reads every batch back from the log. */
  recentReadings?: number;
}

export interface ReplicationStats {
  k: number;
  buddies: Array<{ id: string; connected: boolean; storedSeq: number }>;
  /** Highest seq at least one buddy has durably committed (or the cloud acked): "replicated". */
  replicatedSeq: number;
  /** Readings logged but not yet replicated (nor acked upstream). */
  lagReadings: number;
  /** Age of the oldest such reading, ms (0 when none). */
  lagMs: number;
  batchesSent: number;
  bytesSent: number;
  failures: number;
}

interface BuddyLink {
  peer: RelayPeer;
  channel: RelayChannel;
  ready: boolean;
  storedSeq: number;
  cursor: number;
  inFlight: number;
  sentWatermark: number;
}

/**
 * The origin side of backlog replication (RELAY.md §7): copies the log tail above the ack
 * watermark to k buddies chosen by rendezvous hashing over live members, resuming each from what
 * that buddy says it holds, and tells them the watermark so they trim. A reading counts as
 * replicated only once a buddy answered that it committed it.
 */
export class Replicator {
  private readonly links = new Map<string, BuddyLink>();
  private readonly failedAt = new Map<string, number>();
  private readonly loop: StepLoop;
  /** Best seq any buddy ever committed this run (a buddy going away does not un-replicate). */
  private replicated = 0;
  readonly stats = { batchesSent: 0, bytesSent: 0, failures: 0 };
  private readonly k: number;
  private readonly window: number;
  private readonly batchReadings: number;
  private readonly tickMs: number;
  private readonly peerBackoffMs: number;
  private readonly lingerMs: number;
  private lingerTimer: Timer | null = null;
  /** The freshest commits, by reference (recent-readings.ts): what a buddy that keeps up is fed from. */
  private readonly recent: RecentReadings;
  /** A replicated batch's bytes at most: well under the channel's 4 MiB frame cap. */
  private static readonly MAX_BATCH_BYTES = 1024 * 1024;

  constructor(private readonly opts: ReplicatorOptions) {
    this.k = opts.k ?? 1;
    this.recent = new RecentReadings(opts.recentReadings ?? 50_000);
    this.window = opts.window ?? 4;
    this.batchReadings = opts.batchReadings ?? 8000;
    this.tickMs = opts.tickMs ?? 500;
    this.loop = new StepLoop({
      clock: opts.clock,
      everyMs: this.tickMs,
      step: () => this.step(),
      onError: (err) => this.opts.logger.warn({ component: 'replication', err: err.message }, 'replication step failed; retrying'),
    });
    this.peerBackoffMs = opts.peerBackoffMs ?? 5000;
    this.lingerMs = opts.lingerMs ?? 200;
    if (!Number.isInteger(this.k) || this.k < 0) throw new RelayError('FM_ERR_RELAY_CONFIG', `relay replicas = ${this.k}: must be 0 or more`);
  }

  start(): void {
    if (this.k === 0) return;
    this.loop.start();
  }

  private get running(): boolean {
    return this.loop.running;
  }

  stop(): void {
    this.loop.stop();
    if (this.lingerTimer) this.opts.clock.clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    for (const l of [...this.links.values()]) l.channel.close('stopping');
    this.links.clear();
  }

  /** New readings committed (`batch` when the caller has them in memory: then no log read-back). */
  notify(batch?: { firstSeq: number; lastSeq: number; readings: readonly Reading[] }): void {
    if (batch && batch.readings.length === batch.lastSeq - batch.firstSeq + 1 && this.links.size > 0) {
      this.recent.add(batch.firstSeq, batch.readings);
    }
    if (this.lingerMs === 0) this.pumpAll();
    else if (!this.lingerTimer && this.running) {
      this.lingerTimer = this.opts.clock.setTimeout(() => {
        this.lingerTimer = null;
        this.pumpAll();
      }, this.lingerMs);
    }
  }

  private pumpAll(): void {
    for (const l of this.links.values()) this.pump(l);
    // Keep only what some buddy has not been sent yet.
    let low = Infinity;
    for (const l of this.links.values()) low = Math.min(low, l.ready ? l.cursor : 0);
    if (low !== Infinity && low > 0) this.recent.dropThrough(low);
  }

  /** Up to `limit` readings after `seq`, from memory when it holds them, else from the log. */
  private readAfter(seq: number, limit: number): LoggedReading[] {
    // Caught up: no query (the pump asks after every ack and every tick).
    if (seq >= this.opts.log.lastSeq()) return [];
    return this.recent.after(seq, limit) ?? this.opts.log.readAfter(seq, limit);
  }

  snapshot(): ReplicationStats {
    const log = this.opts.log;
    const safe = Math.max(this.replicated, log.ackWatermark());
    const last = log.lastSeq();
    let lagMs = 0;
    if (last > safe) {
      const oldest = log.readAfter(safe, 1)[0];
      if (oldest) lagMs = Math.max(0, this.opts.clock.now() - oldest.ts);
    }
    return {
      k: this.k,
      buddies: [...this.links.values()].map((l) => ({ id: l.peer.id, connected: l.ready, storedSeq: l.storedSeq })),
      replicatedSeq: Math.min(safe, last),
      lagReadings: Math.max(0, last - safe),
      lagMs,
      ...this.stats,
    };
  }

  private step(): void {
    const now = this.opts.clock.monotonic();
    const peers = this.opts.peers.list().filter((p) => now - (this.failedAt.get(p.id) ?? -Infinity) >= this.peerBackoffMs);
    const byId = new Map(peers.map((p) => [p.id, p]));
    const want = new Set(pickBuddies(this.opts.selfId, [...byId.keys()], this.k));
    for (const [id, l] of this.links) if (!want.has(id)) l.channel.close('no longer a buddy');
    for (const id of want) if (!this.links.has(id)) this.connect(byId.get(id)!);
    const acked = this.opts.log.ackWatermark();
    for (const l of this.links.values()) {
      if (!l.ready) continue;
      if (acked > l.sentWatermark) {
        l.sentWatermark = acked;
        l.channel.send(FRAME_WATERMARK, Buffer.from(JSON.stringify({ epoch: this.opts.log.epoch, ackedSeq: acked })));
      }
      this.pump(l);
    }
  }

  private connect(peer: RelayPeer): void {
    const channel = new RelayChannel(connect({ host: peer.host, port: peer.port }), this.opts.selfId, this.opts.credentials, 'origin');
    const link: BuddyLink = { peer, channel, ready: false, storedSeq: 0, cursor: 0, inFlight: 0, sentWatermark: 0 };
    this.links.set(peer.id, link);
    const log = this.opts.log;
    channel.open(
      {
        hello: (id) => {
          if (id !== peer.id) return channel.close(`peer says it is ${id}, not ${peer.id}`);
          link.sentWatermark = log.ackWatermark();
          channel.send(FRAME_REPLICA_OPEN, Buffer.from(JSON.stringify({ epoch: log.epoch, ackedSeq: link.sentWatermark })));
        },
        frame: (f) => {
          if (f.type !== FRAME_REPLICA_ACK) return channel.close(`unexpected frame type ${f.type}`);
          let m: { epoch?: unknown; storedSeq?: unknown };
          try {
            m = JSON.parse(f.body.toString('utf8')) as typeof m;
          } catch {
            return channel.close('malformed replica ack');
          }
          if (m.epoch !== log.epoch || typeof m.storedSeq !== 'number' || !Number.isSafeInteger(m.storedSeq) || m.storedSeq < 0) return channel.close('bad replica ack');
          if (!link.ready) {
            // The buddy's answer to REPLICA_OPEN: resume right after what it holds.
            link.ready = true;
            link.cursor = m.storedSeq;
          } else link.inFlight = Math.max(0, link.inFlight - 1);
          link.storedSeq = Math.max(link.storedSeq, m.storedSeq);
          // Never beyond what we have logged: a buddy's claim cannot invent readings.
          this.replicated = Math.max(this.replicated, Math.min(link.storedSeq, log.lastSeq()));
          if (link.cursor < link.storedSeq) link.cursor = link.storedSeq;
          this.pump(link);
        },
        close: (reason) => {
          if (this.links.get(peer.id) !== link) return;
          this.links.delete(peer.id);
          if (this.running && reason !== 'no longer a buddy') {
            this.stats.failures++;
            this.failedAt.set(peer.id, this.opts.clock.monotonic());
          }
        },
      },
      'replicate',
    );
  }

  private pump(l: BuddyLink): void {
    if (!l.ready || !l.channel.isOpen) return;
    const log = this.opts.log;
    l.cursor = Math.max(l.cursor, log.ackWatermark());
    while (l.inFlight < this.window) {
      let readings = this.readAfter(l.cursor, this.batchReadings);
      if (readings.length === 0) return;
      let payload: Buffer;
      try {
        payload = encodeBatch({ gatewayId: this.opts.selfId, epoch: log.epoch, readings }, this.opts.sign);
        // Large string values can make a big batch too large for one frame (4 MiB): halve it.
        while (payload.length > Replicator.MAX_BATCH_BYTES && readings.length > 1) {
          readings = readings.slice(0, readings.length >> 1);
          payload = encodeBatch({ gatewayId: this.opts.selfId, epoch: log.epoch, readings }, this.opts.sign);
        }
      } catch {
        return; // the direct uplink quarantines what the codec cannot carry; stop short of it
      }
      l.cursor = readings.at(-1)!.seq;
      l.inFlight++;
      l.channel.send(FRAME_REPLICATE, payload);
      this.stats.batchesSent++;
      this.stats.bytesSent += payload.length;
    }
  }
}
