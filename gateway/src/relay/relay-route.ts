import { connect } from 'node:net';
import type { Clock, Logger } from '@fieldmesh/device-sdk';
import type { ReadingLog } from '../store/reading-log.js';
import { encodeBatch, decodeAck, type BatchSign } from '@fieldmesh/protocol';
import { RelayError } from './errors.js';
import { StepLoop } from './step-loop.js';
import { RelayChannel, type RelayCredentials } from './relay-channel.js';
import { FRAME_ACK, FRAME_BATCH, FRAME_REFUSE } from './relay-frame.js';
import type { RelayPeer, RelayPeers } from './relay-peers.js';

export interface RelayRouteOptions {
  selfId: string;
  log: ReadingLog;
  /** Whether this gateway's own uplink delivers right now (uplink state `online`). */
  uplinkOnline: () => boolean;
  peers: RelayPeers;
  credentials: RelayCredentials;
  clock: Clock;
  logger: Logger;
  /** ms the own uplink must have been down before relaying starts. Default 3000. */
  afterMs?: number;
  /** Batches sent to the relay and not yet acked. Default 4. */
  window?: number;
  /** Readings per relayed batch at most. Default 2000. */
  batchReadings?: number;
  /** ms without an ack for the oldest batch before the relay is given up (failover). Default 15000. */
  ackTimeoutMs?: number;
  /** ms a peer that failed is skipped. Default 5000. */
  peerBackoffMs?: number;
  /** ms between checks of the uplink and the peers. Default 500. */
  tickMs?: number;
  /** Signs each batch as its origin: the relay forwards it as is and cannot forge one. */
  sign?: BatchSign;
}

export type RouteState = 'direct' | 'waiting' | 'connecting' | 'relaying' | 'idle';

export interface RelayRouteStats {
  state: RouteState;
  /** The peer our data goes through now, or null. */
  via: string | null;
  batchesSent: number;
  batchesAcked: number;
  readingsAcked: number;
  refusals: number;
  failovers: number;
  bytesSent: number;
  lastError: string | null;
}

interface SentBatch {
  firstSeq: number;
  lastSeq: number;
  sentAt: number;
  acked: boolean;
}

/**
 * The origin side (RELAY.md §6): while our uplink is down and a peer's is up, stream the log tail
 * from the ack watermark to that peer. Only the cloud's ack (through the relay) moves the
 * watermark, over contiguous acked batches, exactly as the direct uplink does; so a relay dying,
 * a failover or our own uplink returning at any moment loses nothing (the log still holds every
 * unacked reading) and doubles nothing in the cloud (it dedupes by `(gateway, epoch, seq)`).
 */
export class RelayRoute {
  private channel: RelayChannel | null = null;
  private via: RelayPeer | null = null;
  private inFlight: SentBatch[] = [];
  private cursor = 0;
  private downSince: number | null = null;
  private readonly failedAt = new Map<string, number>();
  private readonly loop: StepLoop;
  private state: RouteState = 'idle';
  readonly stats: Omit<RelayRouteStats, 'state' | 'via'> = { batchesSent: 0, batchesAcked: 0, readingsAcked: 0, refusals: 0, failovers: 0, bytesSent: 0, lastError: null };
  private readonly afterMs: number;
  private readonly window: number;
  private readonly batchReadings: number;
  private readonly ackTimeoutMs: number;
  private readonly peerBackoffMs: number;
  private readonly tickMs: number;

  constructor(private readonly opts: RelayRouteOptions) {
    this.afterMs = opts.afterMs ?? 3000;
    this.window = opts.window ?? 4;
    this.batchReadings = opts.batchReadings ?? 2000;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 15_000;
    this.peerBackoffMs = opts.peerBackoffMs ?? 5000;
    this.tickMs = opts.tickMs ?? 500;
    for (const [k, v] of Object.entries({ window: this.window, batchReadings: this.batchReadings, ackTimeoutMs: this.ackTimeoutMs, tickMs: this.tickMs })) {
      if (!Number.isInteger(v) || v < 1) throw new RelayError('FM_ERR_RELAY_CONFIG', `relay ${k} = ${v}: must be a positive integer`);
    }
    // A failed step (log read error, peer list glitch) is recorded and retried at the next one.
    this.loop = new StepLoop({ clock: opts.clock, everyMs: this.tickMs, step: () => this.step(), onError: (err) => (this.stats.lastError = err.message) });
  }

  start(): void {
    this.loop.start();
  }

  private get running(): boolean {
    return this.loop.running;
  }

  stop(): void {
    this.loop.stop();
    this.drop('stopping', false);
  }

  /** New readings were committed: stream them now instead of at the next tick. */
  notify(): void {
    if (this.channel?.isOpen) this.pump();
  }

  snapshot(): RelayRouteStats {
    return { ...this.stats, state: this.state, via: this.channel?.isOpen ? (this.via?.id ?? null) : null };
  }

  private step(): void {
    const now = this.opts.clock.monotonic();
    if (this.opts.uplinkOnline()) {
      this.downSince = null;
      // Our own uplink carries on from the watermark; whatever the relay still had in flight is
      // deduped by the cloud if it lands too.
      if (this.channel) this.drop('own uplink is back', false);
      this.state = 'direct';
      return;
    }
    this.downSince ??= now;
    if (this.channel) {
      const oldest = this.inFlight[0];
      if (oldest && now - oldest.sentAt > this.ackTimeoutMs) this.drop(`no ack within ${this.ackTimeoutMs} ms`, true);
      else if (this.channel.isOpen) this.pump();
      return;
    }
    const log = this.opts.log;
    if (log.lastSeq() <= log.ackWatermark()) {
      this.state = 'idle';
      return;
    }
    if (now - this.downSince < this.afterMs) {
      this.state = 'waiting';
      return;
    }
    const peer = this.pick(now);
    if (!peer) {
      this.state = 'waiting';
      return;
    }
    this.open(peer);
  }

  /** Up peers, least backlogged first, skipping ones that failed lately; ties by id (stable). */
  private pick(now: number): RelayPeer | null {
    const ok = this.opts.peers
      .list()
      .filter((p) => p.uplink === 'up' && p.id !== this.opts.selfId)
      .filter((p) => now - (this.failedAt.get(p.id) ?? -Infinity) >= this.peerBackoffMs)
      .sort((a, b) => a.backlog - b.backlog || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return ok[0] ?? null;
  }

  private open(peer: RelayPeer): void {
    this.state = 'connecting';
    this.via = peer;
    const socket = connect({ host: peer.host, port: peer.port });
    const channel = new RelayChannel(socket, this.opts.selfId, this.opts.credentials, 'origin');
    this.channel = channel;
    this.inFlight = [];
    this.cursor = this.opts.log.ackWatermark();
    channel.open({
      hello: (peerId) => {
        if (peerId !== peer.id) return this.drop(`peer at ${peer.host}:${peer.port} says it is ${peerId}, not ${peer.id}`, true);
        this.state = 'relaying';
        this.opts.logger.info({ component: 'relay', via: peer.id }, 'uplink down: delivering through a peer');
        this.pump();
      },
      frame: (f) => {
        if (f.type === FRAME_ACK) return this.onAck(f.body);
        if (f.type === FRAME_REFUSE) {
          this.stats.refusals++;
          let reason = 'refused';
          try {
            reason = String((JSON.parse(f.body.toString('utf8')) as { code?: unknown }).code ?? reason);
          } catch {
            // A refusal we cannot read is still a refusal.
          }
          return this.drop(reason, true);
        }
        this.drop(`unexpected frame type ${f.type}`, true);
      },
      close: (reason) => {
        if (this.channel === channel) this.drop(reason, true);
      },
    });
  }

  private pump(): void {
    const channel = this.channel;
    if (!channel?.isOpen) return;
    const log = this.opts.log;
    // The direct uplink (or an earlier relay) may have moved the watermark past our cursor.
    this.cursor = Math.max(this.cursor, log.ackWatermark());
    while (this.inFlight.length < this.window) {
      const readings = log.readAfter(this.cursor, this.batchReadings);
      if (readings.length === 0) return;
      let payload: Buffer;
      try {
        payload = encodeBatch({ gatewayId: this.opts.selfId, epoch: log.epoch, readings }, this.opts.sign);
      } catch (err) {
        // A reading the codec cannot carry is the direct uplink's to quarantine (it does so in
        // order); the relay stops short of it rather than skipping data.
        this.stats.lastError = (err as Error).message;
        return;
      }
      const first = readings[0]!.seq;
      const last = readings.at(-1)!.seq;
      this.inFlight.push({ firstSeq: first, lastSeq: last, sentAt: this.opts.clock.monotonic(), acked: false });
      this.cursor = last;
      channel.send(FRAME_BATCH, payload);
      this.stats.batchesSent++;
      this.stats.bytesSent += payload.length;
    }
  }

  private onAck(body: Buffer): void {
    let ack: ReturnType<typeof decodeAck>;
    try {
      ack = decodeAck(body);
    } catch {
      this.stats.lastError = 'malformed ack from relay';
      return;
    }
    const log = this.opts.log;
    if (!ack.ok) {
      // A refusal: resend from the watermark after the relay is re-picked; quarantine stays the
      // direct uplink's decision (it sees the whole refusal history).
      this.stats.refusals++;
      return this.drop(`cloud refused: ${ack.code}`, true);
    }
    if (ack.epoch !== log.epoch) return;
    const b = this.inFlight.find((x) => x.firstSeq === ack.firstSeq && x.lastSeq === ack.lastSeq);
    if (!b) {
      // An ack for a batch of an earlier session (the relay hands acks to our newest channel):
      // the cloud committed exactly that range, so it still moves the watermark when it joins on.
      if (ack.firstSeq <= log.ackWatermark() + 1 && ack.lastSeq <= log.lastSeq()) log.advanceAckWatermark(ack.lastSeq);
      return;
    }
    b.acked = true;
    this.stats.batchesAcked++;
    this.stats.readingsAcked += b.lastSeq - b.firstSeq + 1;
    let mark = 0;
    while (this.inFlight[0]?.acked) mark = this.inFlight.shift()!.lastSeq;
    if (mark > 0) log.advanceAckWatermark(mark);
    this.pump();
  }

  private drop(reason: string, failed: boolean): void {
    const channel = this.channel;
    if (!channel) return;
    this.channel = null;
    this.inFlight = [];
    if (failed && this.via) {
      this.failedAt.set(this.via.id, this.opts.clock.monotonic());
      this.stats.failovers++;
      this.stats.lastError = reason;
      this.opts.logger.warn({ component: 'relay', via: this.via.id, reason }, 'relay path lost; trying another peer');
    }
    this.state = this.running ? 'waiting' : 'idle';
    channel.close(reason);
  }
}
