import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Clock, Logger, Timer } from '@fieldmesh/device-sdk';
import { decodeBatchHeader, decodeAck, type AckMessage } from '@fieldmesh/protocol';
import { RelayError, type RelayErrorCode } from './errors.js';
import { RelayChannel, type ChannelPurpose, type RelayCredentials, type RelayFrame } from './relay-channel.js';
import { FRAME_ACK, FRAME_BATCH, FRAME_REFUSE } from './relay-frame.js';
import type { RelayUpstream } from './relay-upstream.js';

export interface RelayServerOptions {
  selfId: string;
  credentials: RelayCredentials;
  /** Null: no uplink here to offer, so only replication is served. */
  upstream: RelayUpstream | null;
  clock: Clock;
  logger: Logger;
  /** Relayed batches published upstream and not yet acked, all origins together. Default 4. */
  window?: number;
  /** Origins served at once. Default 8. */
  maxOrigins?: number;
  /** Batches one origin may have queued here before it is cut off as misbehaving. Default 32. */
  maxQueuedPerOrigin?: number;
  /** ms to wait for the cloud's ack of a relayed batch before freeing its window slot. Default 30000. */
  ackTimeoutMs?: number;
  /**
   * Open connections at most, authenticated or not. Default 64: maxOrigins relays plus
   * replication channels of a mesh of tens, with room; one more is closed at once and counted.
   */
  maxConnections?: number;
  /** ms a new connection has for its hello to open. Default 5000 (a hello is one small frame). */
  helloTimeoutMs?: number;
}

export interface RelayServingStats {
  port: number;
  origins: string[];
  connections: number;
  batchesReceived: number;
  batchesForwarded: number;
  acksReturned: number;
  readingsForwarded: number;
  bytesForwarded: number;
  inFlight: number;
  queued: number;
  refused: Record<string, number>;
}

/** Who handles channels opened for replication (replica-keeper.ts). */
export interface ReplicationEndpoint {
  frame(channel: RelayChannel, f: RelayFrame): void;
  closed(channel: RelayChannel): void;
}

interface Pending {
  origin: string;
  /** Null for a batch this gateway uploads itself (a dead origin's replica). */
  channel: RelayChannel | null;
  payload: Buffer;
  epoch: string;
  firstSeq: number;
  lastSeq: number;
  timer?: Timer;
}

/**
 * The serving side: accepts origins over the relay channel and forwards their batches upstream,
 * unchanged, within a bounded window shared by all origins, so the relay's own data keeps its
 * share of the link (RELAY.md §5). Acks from the cloud go back to the origin on its channel.
 * A misbehaving origin is cut off and counted; the server never crashes on input.
 */
export class RelayServer {
  private server: Server | null = null;
  private readonly channels = new Set<RelayChannel>();
  private readonly queue: Pending[] = [];
  private readonly inFlight: Pending[] = [];
  readonly stats: Omit<RelayServingStats, 'port' | 'origins' | 'connections' | 'inFlight' | 'queued'> = {
    batchesReceived: 0,
    batchesForwarded: 0,
    acksReturned: 0,
    readingsForwarded: 0,
    bytesForwarded: 0,
    refused: {},
  };
  private readonly window: number;
  private readonly maxOrigins: number;
  private readonly maxQueued: number;
  private readonly ackTimeoutMs: number;
  private readonly maxConnections: number;
  private readonly helloTimeoutMs: number;
  private readonly purpose = new WeakMap<RelayChannel, ChannelPurpose>();
  private readonly ackListeners: Array<(origin: string, ack: AckMessage) => void> = [];
  replication: ReplicationEndpoint | null = null;

  constructor(private readonly opts: RelayServerOptions) {
    this.window = opts.window ?? 4;
    this.maxOrigins = opts.maxOrigins ?? 8;
    this.maxQueued = opts.maxQueuedPerOrigin ?? 32;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 30_000;
    this.maxConnections = opts.maxConnections ?? 64;
    this.helloTimeoutMs = opts.helloTimeoutMs ?? 5000;
    for (const [k, v] of Object.entries({ window: this.window, maxOrigins: this.maxOrigins, maxQueuedPerOrigin: this.maxQueued, ackTimeoutMs: this.ackTimeoutMs, maxConnections: this.maxConnections, helloTimeoutMs: this.helloTimeoutMs })) {
      if (!Number.isInteger(v) || v < 1) throw new RelayError('FM_ERR_RELAY_CONFIG', `relay ${k} = ${v}: must be a positive integer`);
    }
  }

  /** Called with every ack the cloud sends for a batch this gateway relayed or uploaded. */
  onAck(listener: (origin: string, ack: AckMessage) => void): void {
    this.ackListeners.push(listener);
  }

  get upstreamOnline(): boolean {
    return this.opts.upstream?.online ?? false;
  }

  /**
   * Queues a batch of `origin` this gateway uploads on its own (a dead origin's replica), in the
   * same bounded window as relayed batches. Returns false when the queue is already long.
   */
  upload(origin: string, payload: Buffer, header: { epoch: string; firstSeq: number; lastSeq: number }): boolean {
    if (!this.opts.upstream || this.queue.length >= this.window * 4) return false;
    this.queue.push({ origin, channel: null, payload, ...header });
    this.pump();
    return true;
  }

  async listen(port: number, host: string): Promise<number> {
    this.opts.upstream?.start({
      ack: (origin, payload) => this.onUpstreamAck(origin, payload),
      state: (online) => {
        if (online) return this.pump();
        // What was in flight is forgotten: the origins resend after their ack timeout, or sooner
        // when they pick another relay. Telling them now makes the failover immediate.
        this.dropAll('FM_ERR_RELAY_UPLINK_DOWN', 'relay uplink lost');
      },
    });
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  get port(): number {
    return this.server ? (this.server.address() as AddressInfo).port : 0;
  }

  snapshot(): RelayServingStats {
    const origins = new Set<string>();
    for (const c of this.channels) if (c.peerId && c.isOpen && this.purpose.get(c) === 'relay') origins.add(c.peerId);
    return { ...this.stats, refused: { ...this.stats.refused }, port: this.port, origins: [...origins].sort(), connections: this.channels.size, inFlight: this.inFlight.length, queued: this.queue.length };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const c of [...this.channels]) c.close('relay stopping');
    for (const p of this.inFlight) if (p.timer) this.opts.clock.clearTimeout(p.timer);
    this.inFlight.length = 0;
    this.queue.length = 0;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    await this.opts.upstream?.stop();
  }

  private count(code: RelayErrorCode | string): void {
    this.stats.refused[code] = (this.stats.refused[code] ?? 0) + 1;
  }

  private accept(socket: Socket): void {
    if (this.channels.size >= this.maxConnections) {
      this.count('too_many_connections');
      this.opts.logger.warn({ component: 'relay', remote: socket.remoteAddress, max: this.maxConnections }, 'relay connection refused: too many');
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    const channel = new RelayChannel(socket, this.opts.selfId, this.opts.credentials, 'relay');
    this.channels.add(channel);
    channel.open({
      hello: (origin, purpose) => {
        this.purpose.set(channel, purpose);
        if (origin === this.opts.selfId) return this.refuse(channel, 'FM_ERR_RELAY_ORIGIN', 'a gateway cannot pair with itself');
        if (purpose === 'replicate') {
          if (!this.replication) return this.refuse(channel, 'FM_ERR_RELAY_BUSY', 'replication is off here');
          return;
        }
        if (!this.opts.upstream?.online) return this.refuse(channel, 'FM_ERR_RELAY_UPLINK_DOWN', 'no uplink here right now');
        const origins = new Set<string>();
        for (const c of this.channels) if (c !== channel && c.peerId && this.purpose.get(c) === 'relay') origins.add(c.peerId);
        if (!origins.has(origin) && origins.size >= this.maxOrigins) return this.refuse(channel, 'FM_ERR_RELAY_BUSY', `serving ${origins.size} origins`);
        this.opts.logger.info({ component: 'relay', origin }, 'relaying for a peer');
      },
      frame: (f) => {
        if (this.purpose.get(channel) === 'replicate') return this.replication?.frame(channel, f);
        if (f.type === FRAME_BATCH) return this.onBatch(channel, f.body);
        this.count('FM_ERR_RELAY_FRAME');
        channel.close(`unexpected frame type ${f.type}`);
      },
      close: (reason) => {
        this.channels.delete(channel);
        this.forget(channel);
        if (this.purpose.get(channel) === 'replicate') this.replication?.closed(channel);
        if (channel.peerId) this.opts.logger.info({ component: 'relay', origin: channel.peerId, reason }, 'relay connection closed');
        else this.count(channel.preHelloRefusal ?? 'FM_ERR_RELAY_HANDSHAKE');
      },
    }, 'relay', this.helloTimeoutMs);
  }

  private refuse(channel: RelayChannel, code: RelayErrorCode, reason: string): void {
    this.count(code);
    channel.send(FRAME_REFUSE, Buffer.from(JSON.stringify({ code, reason })));
    channel.socket.end();
  }

  private onBatch(channel: RelayChannel, payload: Buffer): void {
    const origin = channel.peerId!;
    this.stats.batchesReceived++;
    let header: ReturnType<typeof decodeBatchHeader>;
    try {
      header = decodeBatchHeader(payload);
    } catch (err) {
      // Not ours to judge further: the cloud checks the body. A header we cannot read is garbage.
      this.count('FM_ERR_RELAY_FRAME');
      return channel.close(`unreadable batch: ${(err as Error).message}`);
    }
    if (header.gatewayId !== origin) {
      this.count('FM_ERR_RELAY_ORIGIN');
      return channel.close(new RelayError('FM_ERR_RELAY_ORIGIN', `batch of ${header.gatewayId} from ${origin}`).message);
    }
    let mine = 0;
    for (const p of this.queue) if (p.channel === channel) mine++;
    if (mine >= this.maxQueued) {
      this.count('FM_ERR_RELAY_BUSY');
      return channel.close(`more than ${this.maxQueued} batches queued`);
    }
    this.queue.push({ origin, channel, payload, epoch: header.epoch, firstSeq: header.firstSeq, lastSeq: header.lastSeq });
    this.pump();
  }

  private pump(): void {
    const upstream = this.opts.upstream;
    while (upstream && this.inFlight.length < this.window && this.queue.length > 0 && upstream.online) {
      const p = this.queue.shift()!;
      this.inFlight.push(p);
      p.timer = this.opts.clock.setTimeout(() => this.release(p), this.ackTimeoutMs);
      this.stats.batchesForwarded++;
      this.stats.bytesForwarded += p.payload.length;
      this.stats.readingsForwarded += p.lastSeq - p.firstSeq + 1;
      upstream.publish(p.origin, p.payload).catch(() => this.release(p));
    }
  }

  private release(p: Pending): void {
    const i = this.inFlight.indexOf(p);
    if (i === -1) return;
    this.inFlight.splice(i, 1);
    if (p.timer) this.opts.clock.clearTimeout(p.timer);
    this.pump();
  }

  private onUpstreamAck(origin: string, payload: Buffer): void {
    let ack: ReturnType<typeof decodeAck>;
    try {
      ack = decodeAck(payload);
    } catch {
      this.count('FM_ERR_ACK_MALFORMED');
      return;
    }
    const p = this.inFlight.find((x) => x.origin === origin && x.epoch === ack.epoch && x.firstSeq === ack.firstSeq && x.lastSeq === ack.lastSeq);
    // The ack goes to every live channel of that origin: after a reconnect it is the new one
    // that needs it, and an ack is idempotent at the origin.
    for (const c of this.channels) {
      if (c.peerId === origin && c.isOpen && this.purpose.get(c) === 'relay') {
        c.send(FRAME_ACK, payload);
        this.stats.acksReturned++;
      }
    }
    if (p) this.release(p);
    for (const l of this.ackListeners) l(origin, ack);
  }

  private forget(channel: RelayChannel): void {
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i]!.channel === channel) this.queue.splice(i, 1);
  }

  private dropAll(code: RelayErrorCode, reason: string): void {
    for (const p of this.inFlight) if (p.timer) this.opts.clock.clearTimeout(p.timer);
    this.inFlight.length = 0;
    this.queue.length = 0;
    for (const c of [...this.channels]) if (c.isOpen && this.purpose.get(c) === 'relay') this.refuse(c, code, reason);
  }
}
