import { type Clock, type Timer, type Logger, silentLogger } from '@fieldmesh/device-sdk';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import { Awareness } from './awareness.js';
import { BroadcastQueue, retransmitLimit } from './broadcast-queue.js';
import { CodecError } from './bytes.js';
import {
  COMPOUND_HEADER,
  COMPOUND_PART_OVERHEAD,
  decodePayload,
  encodeMessage,
  entrySize,
  MAX_COMPOUND_PARTS,
  MAX_MESSAGE,
  packCompound,
  PUSH_PULL_HEADER,
} from './codec.js';
import { checkLabel, checkMemberId, type MeshTuning } from './config.js';
import { MeshError } from './errors.js';
import type { KeyRing } from './keyring.js';
import type { Member } from './member.js';
import { Membership, type MemberEvent } from './membership.js';
import type { Alive, Dead, Message, Ping, PushPullEntry, Suspect } from './messages.js';
import { emptyMetrics, type MeshDropReason, type MeshMetrics } from './metrics.js';
import { Prober, type AckWaiter } from './prober.js';
import type { Random } from './random.js';
import { Seal } from './seal.js';
import type { Transport } from './transport.js';

export interface MeshNodeOptions {
  id: string;
  /** Cluster label: authenticated in every packet, so two meshes never mix. */
  label: string;
  tuning: Readonly<MeshTuning>;
  transport: Transport;
  keyring: KeyRing;
  clock: Clock;
  random: Random;
  /** Encoded MemberMeta (meta.ts). */
  meta?: Buffer;
  logger?: Logger;
}

/**
 * One mesh member: SWIM + Lifeguard over a Transport. Runs the probe, gossip, push-pull and
 * reconnect loops on the injected clock; every packet in or out goes through the Seal.
 */
export class MeshNode {
  readonly metrics: MeshMetrics = emptyMetrics();
  /**
   * Plaintext bytes sent per message type code (messages.ts MessageType; piggybacked parts
   * included): where the bandwidth goes, for the simulator and benchmarks.
   */
  readonly bytesOutByType = new Map<number, number>();
  readonly awareness: Awareness;
  readonly membership: Membership;
  readonly acks = new Map<number, AckWaiter>();
  readonly tuning: Readonly<MeshTuning>;
  readonly clock: Clock;
  readonly random: Random;
  private readonly seal: Seal;
  private readonly queue = new BroadcastQueue();
  private readonly prober: Prober;
  private readonly transport: Transport;
  private readonly logger: Logger;
  private readonly listeners: Array<(e: MemberEvent) => void> = [];
  private readonly timers = new Map<string, Timer>();
  private readonly seeds = new Set<string>();
  private seq = 0;
  private windowCursor = 0;
  private joinSynced = false;
  private running = false;
  private stopped = false;
  leaving = false;
  /** A hostile or misconfigured peer must not flood the log: one drop line per 10 s. */
  private readonly dropLog: RateLimitedLog;

  constructor(opts: MeshNodeOptions) {
    checkMemberId(opts.id);
    checkLabel(opts.label);
    this.tuning = opts.tuning;
    this.clock = opts.clock;
    this.random = opts.random;
    this.transport = opts.transport;
    this.logger = (opts.logger ?? silentLogger).child({ component: 'mesh', member: opts.id });
    this.dropLog = new RateLimitedLog(this.logger, opts.clock, { intervalMs: 10_000, countZero: false });
    this.awareness = new Awareness(opts.tuning.awarenessMaxMultiplier);
    this.seal = new Seal({ keyring: opts.keyring, label: opts.label, clock: opts.clock, random: opts.random, replayWindowMs: opts.tuning.replayWindowMs });
    this.membership = new Membership(this, { id: opts.id, addr: opts.transport.address, meta: opts.meta ?? Buffer.alloc(0) });
    this.prober = new Prober(this);
    this.transport.onPacket((p, from) => this.receive(p, from));
  }

  get id(): string {
    return this.membership.self.id;
  }

  get address(): string {
    return this.membership.self.addr;
  }

  on(listener: (e: MemberEvent) => void): void {
    this.listeners.push(listener);
  }

  emit(e: MemberEvent): void {
    for (const l of this.listeners) l(e);
  }

  nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  /** Starts the loops, staggered randomly so a fleet started together does not tick in step. */
  start(seeds: string[] = []): void {
    if (this.running || this.stopped) throw new MeshError('FM_ERR_MESH_STATE', 'mesh member started twice or after stop');
    this.running = true;
    const t = this.tuning;
    const stagger = (ms: number) => Math.floor(this.random.next() * ms);
    this.loop('probe', stagger(t.probeIntervalMs), () => this.prober.tick());
    this.loop('gossip', stagger(t.gossipIntervalMs), () => {
      this.gossip();
      return t.gossipIntervalMs;
    });
    if (t.pushPullIntervalMs > 0) {
      this.loop('push-pull', stagger(t.pushPullIntervalMs), () => {
        this.antiEntropy();
        return t.pushPullIntervalMs;
      });
    }
    this.loop('reconnect', t.reconnectIntervalMs, () => {
      this.reconnect();
      return t.reconnectIntervalMs;
    });
    this.join(seeds);
  }

  private loop(name: string, firstMs: number, body: () => number): void {
    const run = () => {
      if (!this.running) return;
      const next = body();
      this.timers.set(name, this.clock.setTimeout(run, next));
    };
    this.timers.set(name, this.clock.setTimeout(run, firstMs));
  }

  /** Asks each address for its full state (push-pull join). Seeds are remembered for reconnects while alone. */
  join(addrs: string[]): void {
    for (const a of addrs) {
      if (a === this.address) continue;
      this.seeds.add(a);
      if (this.running) this.sendState(a, true, false);
    }
  }

  /**
   * Push-pull rides on datagrams: a chunk of the seed's answer may be lost, leaving us unaware
   * of some members for many anti-entropy rounds. Two more full exchanges with random members
   * soon after the first answer make a member missing after a join as rare as three losses.
   */
  private afterJoin(): void {
    this.joinSynced = true;
    for (const delay of [1000, 4000]) {
      this.clock.setTimeout(() => {
        if (!this.running) return;
        const [peer] = this.membership.randomMembers(1, (x) => x.state === 'alive');
        if (peer) this.sendState(peer.addr, true, false);
      }, delay);
    }
  }

  /** Publishes new metadata (a new incarnation). */
  setMeta(meta: Buffer): void {
    this.membership.bump(meta);
  }

  /** Graceful leave: tells a few members directly, then stops. Peers mark us `left`, not dead. */
  async leave(): Promise<void> {
    if (!this.running) return;
    this.leaving = true;
    const self = this.membership.self;
    this.membership.dead({ type: 'dead', incarnation: self.incarnation, node: self.id, from: self.id });
    const msg = encodeMessage({ type: 'dead', incarnation: self.incarnation, node: self.id, from: self.id });
    for (const m of this.membership.randomMembers(2 * this.tuning.gossipNodes, (x) => x.state === 'alive')) this.send(m.addr, [msg], false);
    await this.stop();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.running = false;
    this.stopped = true;
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
    this.membership.stopAll();
    await this.transport.close();
  }

  members(): Member[] {
    return this.membership.all();
  }

  snapshotMetrics(): MeshMetrics {
    this.metrics.healthScore = this.awareness.healthScore;
    this.metrics.members = this.membership.counts();
    return { ...this.metrics, dropped: { ...this.metrics.dropped }, members: { ...this.metrics.members } };
  }

  /** Updates waiting to be gossiped (for tests and the simulator). */
  get queuedBroadcasts(): number {
    return this.queue.length;
  }

  broadcast(about: string, msg: Alive | Suspect | Dead): void {
    this.queue.queue(about, encodeMessage(msg));
    // A death is the end of a suspicion every member already timed: waiting for the next gossip
    // tick at each hop added ~100 ms per hop (~0.4 s at N=100) to "every member knows". Deaths
    // are rare, so the early round costs little.
    if (msg.type === 'dead' && this.running) this.gossip();
  }

  sendDirect(addr: string, msg: Alive | Suspect | Dead | Ping): void {
    this.send(addr, [encodeMessage(msg)], false);
  }

  private transmitLimit(): number {
    return retransmitLimit(this.tuning.retransmitMult, this.membership.liveCount());
  }

  /** Sends messages to `addr` in one datagram when they fit, filling spare room with queued updates. */
  send(addr: string, parts: Buffer[], piggyback = true): void {
    let all = parts;
    if (piggyback) {
      let used = COMPOUND_HEADER;
      for (const p of parts) used += COMPOUND_PART_OVERHEAD + p.length;
      const extra = this.queue.take(MAX_MESSAGE - used, COMPOUND_PART_OVERHEAD, MAX_COMPOUND_PARTS - parts.length, this.transmitLimit());
      if (extra.length > 0) all = parts.concat(extra);
    }
    for (const p of all) this.bytesOutByType.set(p[0]!, (this.bytesOutByType.get(p[0]!) ?? 0) + p.length);
    for (const payload of packCompound(all)) this.sendPayload(addr, payload);
  }

  private sendPayload(addr: string, payload: Buffer): void {
    const packet = this.seal.seal(payload);
    this.metrics.packetsOut++;
    this.metrics.bytesOut += packet.length;
    this.transport.send(addr, packet);
  }

  private gossip(): void {
    if (this.queue.length === 0) return;
    const now = this.clock.monotonic();
    const dead = this.tuning.gossipToTheDeadMs;
    const targets = this.membership.randomMembers(
      this.tuning.gossipNodes,
      (m) => m.state === 'alive' || m.state === 'suspect' || (m.state === 'dead' && now - m.stateChangeAt < dead),
    );
    for (const t of targets) {
      const parts = this.queue.take(MAX_MESSAGE - COMPOUND_HEADER, COMPOUND_PART_OVERHEAD, MAX_COMPOUND_PARTS, this.transmitLimit());
      if (parts.length === 0) return;
      this.send(t.addr, parts, false);
    }
  }

  private antiEntropy(): void {
    const [peer] = this.membership.randomMembers(1, (m) => m.state === 'alive');
    if (!peer) return;
    this.metrics.pushPulls++;
    this.sendState(peer.addr, false, false);
  }

  /**
   * Partitions heal by themselves: a dead member's last address is tried again (a full-state
   * push-pull) for as long as we remember it, and the seeds while we are alone.
   */
  private reconnect(): void {
    const live = this.membership.liveCount();
    if (live <= 1) for (const s of this.seeds) this.sendState(s, true, false);
    // Serf's reconnect rate: each member tries with probability dead/live, so the whole mesh
    // makes about one attempt per dead member per interval, whatever its size.
    const dead = this.membership.deadMembers();
    if (dead === 0 || this.random.next() > dead / live) return;
    const [target] = this.membership.randomMembers(1, (m) => m.state === 'dead');
    if (target) this.sendState(target.addr, true, false);
  }

  /** Our state (full for a join, else a rotating window) in chunks that each fit a datagram. */
  private sendState(addr: string, join: boolean, reply: boolean): void {
    const all = this.membership.all();
    let entries: PushPullEntry[];
    if (join || all.length <= this.tuning.pushPullWindow) entries = all.map((m) => this.membership.entry(m));
    else {
      entries = [this.membership.entry(all[0]!)];
      const others = all.length - 1;
      for (let i = 0; i < this.tuning.pushPullWindow - 1; i++) {
        this.windowCursor = (this.windowCursor + 1) % others;
        entries.push(this.membership.entry(all[1 + this.windowCursor]!));
      }
    }
    let chunk: PushPullEntry[] = [];
    let size = PUSH_PULL_HEADER;
    const flush = () => {
      if (chunk.length > 0) this.send(addr, [encodeMessage({ type: 'push-pull', join, reply, entries: chunk })], false);
      chunk = [];
      size = PUSH_PULL_HEADER;
    };
    for (const e of entries) {
      const n = entrySize(e);
      if (chunk.length === 255 || size + n > MAX_MESSAGE) flush();
      chunk.push(e);
      size += n;
    }
    flush();
  }

  private drop(reason: MeshDropReason, from: string, detail?: string): void {
    this.metrics.dropped[reason]++;
    this.dropLog.warn('drop', { from, reason, detail, dropped: this.metrics.dropped }, 'mesh datagram dropped');
  }

  private receive(packet: Buffer, from: string): void {
    if (!this.running) return this.drop('not-running', from);
    this.metrics.packetsIn++;
    this.metrics.bytesIn += packet.length;
    const opened = this.seal.open(packet);
    if (!opened.ok) return this.drop(opened.reason, from);
    let msgs: Message[];
    try {
      msgs = decodePayload(opened.payload);
    } catch (err) {
      if (err instanceof CodecError) return this.drop('malformed', from, err.message);
      throw err;
    }
    for (const m of msgs) {
      try {
        this.handle(m, from);
      } catch (err) {
        // A handler bug on hostile input must not stop the receive loop.
        this.drop('malformed', from, (err as Error).message);
      }
    }
  }

  private handle(m: Message, from: string): void {
    switch (m.type) {
      case 'ping':
        if (m.target !== this.id) return this.drop('wrong-target', from, m.target);
        this.send(m.sourceAddr, [encodeMessage({ type: 'ack', seq: m.seq })]);
        return;
      case 'indirect-ping':
        this.prober.relay(m);
        return;
      case 'ack':
        this.acks.get(m.seq)?.ack();
        return;
      case 'nack':
        this.acks.get(m.seq)?.nack();
        return;
      case 'suspect':
        this.membership.suspect(m, from);
        return;
      case 'alive':
        this.membership.alive(m);
        return;
      case 'dead':
        this.membership.dead(m, from);
        return;
      case 'push-pull':
        if (!m.reply) this.sendState(from, m.join, true);
        this.membership.merge(m.entries, from);
        if (m.reply && m.join && !this.joinSynced) this.afterJoin();
        return;
    }
  }
}
