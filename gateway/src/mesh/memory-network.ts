import type { Clock, Timer } from '@fieldmesh/device-sdk';
import { MAX_DATAGRAM } from './codec.js';
import { MeshError } from './errors.js';
import type { Random } from './random.js';
import type { VirtualScheduler } from './scheduler.js';
import type { Transport } from './transport.js';

/**
 * An in-memory datagram network on a virtual clock (memberlist's MockNetwork, plus the faults a
 * site LAN has): independent loss, bursty loss (Gilbert-Elliott: a good and a bad state per
 * receiver), delay with jitter, partitions, and stalled nodes whose event loop freezes, as an
 * overloaded Pi's does. While a node is stalled nothing of it runs: its timers and arriving
 * datagrams wait; on resume its overdue timers fire first and then the queued datagrams, the
 * order Node's event loop uses (timers phase before the poll phase), which is what makes a
 * resumed node accuse healthy peers.
 */
export interface NetworkConditions {
  /** Probability 0-1 that a datagram is lost (independently), in the good state. */
  loss: number;
  /** Bursty loss: per-datagram probability of entering/leaving the bad state, and loss there. */
  burst?: { enter: number; exit: number; loss: number };
  /** One-way delay, ms, plus a uniform jitter 0..jitterMs. */
  delayMs: number;
  jitterMs: number;
}

export const perfectNetwork: NetworkConditions = { loss: 0, delayMs: 1, jitterMs: 1 };

interface Endpoint {
  address: string;
  receiver?: (packet: Buffer, from: string) => void;
  closed: boolean;
  group: number;
  stalledUntil: number;
  resumeTimer?: Timer;
  deferredTimers: Array<() => void>;
  deferredPackets: Array<[Buffer, string]>;
  burstBad: boolean;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  lost: number;
  partitioned: number;
  bytes: number;
}

export class MemoryNetwork {
  private readonly endpoints = new Map<string, Endpoint>();
  private conditions: NetworkConditions;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, lost: 0, partitioned: 0, bytes: 0 };

  constructor(
    private readonly scheduler: VirtualScheduler,
    private readonly random: Random,
    conditions: NetworkConditions = perfectNetwork,
  ) {
    this.conditions = conditions;
  }

  setConditions(c: NetworkConditions): void {
    this.conditions = c;
  }

  attach(address: string): Transport {
    const existing = this.endpoints.get(address);
    if (existing && !existing.closed) throw new MeshError('FM_ERR_MESH_TRANSPORT', `address ${address} is in use on the memory network`);
    const ep: Endpoint = {
      address,
      closed: false,
      group: existing?.group ?? 0,
      stalledUntil: 0,
      deferredTimers: [],
      deferredPackets: [],
      burstBad: false,
    };
    this.endpoints.set(address, ep);
    return {
      address,
      send: (to, packet) => this.route(ep, to, packet),
      onPacket: (receiver) => {
        ep.receiver = receiver;
      },
      close: async () => {
        ep.closed = true;
      },
    };
  }

  /** A clock for the node at `address`: its timers do not fire while it is stalled. */
  clockFor(address: string): Clock {
    const s = this.scheduler;
    return {
      now: () => s.now(),
      monotonic: () => s.monotonic(),
      setTimeout: (fn, ms) =>
        s.setTimeout(() => {
          const ep = this.endpoints.get(address);
          if (ep && ep.stalledUntil > s.monotonic()) ep.deferredTimers.push(fn);
          else fn();
        }, ms),
      clearTimeout: (t) => s.clearTimeout(t),
    };
  }

  /** Nodes in different groups cannot reach each other; unlisted addresses join group 0. */
  partition(groups: string[][]): void {
    for (const ep of this.endpoints.values()) ep.group = 0;
    groups.forEach((g, i) => {
      for (const a of g) {
        const ep = this.endpoints.get(a);
        if (ep) ep.group = i + 1;
      }
    });
  }

  heal(): void {
    for (const ep of this.endpoints.values()) ep.group = 0;
  }

  /** Freezes the node at `address` for `ms` of virtual time. */
  stall(address: string, ms: number): void {
    const ep = this.endpoints.get(address);
    if (!ep) return;
    const until = this.scheduler.monotonic() + ms;
    if (until <= ep.stalledUntil) return;
    ep.stalledUntil = until;
    if (ep.resumeTimer) this.scheduler.clearTimeout(ep.resumeTimer);
    ep.resumeTimer = this.scheduler.setTimeout(() => this.resume(ep), ms);
  }

  isStalled(address: string): boolean {
    const ep = this.endpoints.get(address);
    return !!ep && ep.stalledUntil > this.scheduler.monotonic();
  }

  private resume(ep: Endpoint): void {
    ep.stalledUntil = 0;
    ep.resumeTimer = undefined;
    const timers = ep.deferredTimers;
    const packets = ep.deferredPackets;
    ep.deferredTimers = [];
    ep.deferredPackets = [];
    for (const fn of timers) fn();
    for (const [p, from] of packets) if (!ep.closed) ep.receiver?.(p, from);
  }

  private route(from: Endpoint, to: string, packet: Buffer): void {
    if (packet.length > MAX_DATAGRAM) {
      throw new MeshError('FM_ERR_MESH_MESSAGE_TOO_LARGE', `datagram of ${packet.length} bytes exceeds ${MAX_DATAGRAM}`);
    }
    if (from.closed) return;
    this.stats.sent++;
    this.stats.bytes += packet.length;
    const dest = this.endpoints.get(to);
    if (!dest || dest.closed) {
      this.stats.lost++;
      return;
    }
    if (dest.group !== from.group) {
      this.stats.partitioned++;
      return;
    }
    const c = this.conditions;
    let loss = c.loss;
    if (c.burst) {
      if (dest.burstBad) {
        if (this.random.next() < c.burst.exit) dest.burstBad = false;
      } else if (this.random.next() < c.burst.enter) dest.burstBad = true;
      if (dest.burstBad) loss = c.burst.loss;
    }
    if (loss > 0 && this.random.next() < loss) {
      this.stats.lost++;
      return;
    }
    const delay = c.delayMs + (c.jitterMs > 0 ? this.random.next() * c.jitterMs : 0);
    // No copy: senders never reuse a sealed datagram's buffer.
    const copy = packet;
    const src = from.address;
    this.scheduler.setTimeout(() => {
      if (dest.closed) return;
      // The group is checked again on arrival: a partition cuts datagrams in flight too.
      if (dest.group !== from.group) {
        this.stats.partitioned++;
        return;
      }
      this.stats.delivered++;
      if (dest.stalledUntil > this.scheduler.monotonic()) dest.deferredPackets.push([copy, src]);
      else dest.receiver?.(copy, src);
    }, delay);
  }
}
