import { KeyRing } from './keyring.js';
import type { MeshTuning } from './config.js';
import { MemoryNetwork, perfectNetwork, type NetworkConditions } from './memory-network.js';
import type { MemberEvent } from './membership.js';
import { MeshNode } from './node.js';
import { SeededRandom } from './random.js';
import { VirtualScheduler } from './scheduler.js';

/**
 * A whole mesh in one process on the in-memory network and a virtual clock. Everything random
 * (network loss and delay, each member's probe order and gossip targets, session ids) derives
 * from `seed`, so a run replays exactly. Packets are sealed and opened with AES-256-GCM as on
 * the wire; nothing is skipped for speed.
 */
export interface SimulationOptions {
  seed: number;
  size: number;
  tuning: Readonly<MeshTuning>;
  conditions?: NetworkConditions;
  /** `preloaded`: every member starts knowing every other (a converged mesh); `join`: all join through member 0. */
  bootstrap?: 'preloaded' | 'join';
  label?: string;
}

export interface SimEvent extends MemberEvent {
  /** Index of the member that observed the event. */
  observer: number;
  at: number;
}

export class Simulation {
  readonly scheduler = new VirtualScheduler();
  readonly network: MemoryNetwork;
  readonly nodes: MeshNode[] = [];
  readonly keyrings: KeyRing[] = [];
  readonly crashed = new Set<number>();
  readonly key = Buffer.alloc(32);
  private readonly random: SeededRandom;
  private readonly listeners: Array<(e: SimEvent) => void> = [];
  private generation = new Map<number, number>();

  constructor(private readonly opts: SimulationOptions) {
    this.random = new SeededRandom(opts.seed);
    const keyRandom = this.random.fork();
    for (let i = 0; i < 32; i++) this.key[i] = Math.floor(keyRandom.next() * 256);
    this.network = new MemoryNetwork(this.scheduler, this.random.fork(), opts.conditions ?? perfectNetwork);
    for (let i = 0; i < opts.size; i++) this.nodes.push(this.makeNode(i, Simulation.address(i, 0)));
    if ((opts.bootstrap ?? 'preloaded') === 'preloaded') {
      for (const n of this.nodes) {
        for (const other of this.nodes) n.membership.adopt(other.membership.entry(other.membership.self));
      }
      for (const n of this.nodes) n.start();
    } else {
      this.nodes[0]!.start();
      for (let i = 1; i < this.nodes.length; i++) this.nodes[i]!.start([this.nodes[0]!.address]);
    }
  }

  static address(i: number, generation: number): string {
    return `10.${generation}.${(i >> 8) & 255}.${i & 255}:7946`;
  }

  /** Fixed-width ids, so per-member byte figures compare protocol cost across N, not id length. */
  static id(i: number): string {
    return `gw-${String(i).padStart(4, '0')}`;
  }

  private makeNode(i: number, address: string): MeshNode {
    const keyring = new KeyRing([this.key]);
    this.keyrings[i] = keyring;
    const node = new MeshNode({
      id: Simulation.id(i),
      label: this.opts.label ?? 'sim',
      tuning: this.opts.tuning,
      transport: this.network.attach(address),
      keyring,
      clock: this.network.clockFor(address),
      random: this.random.fork(),
    });
    node.on((e) => {
      if (this.listeners.length === 0) return;
      const ev: SimEvent = { ...e, observer: i, at: this.scheduler.monotonic() };
      for (const l of this.listeners) l(ev);
    });
    return node;
  }

  /** Returns a function that removes the listener. */
  onEvent(l: (e: SimEvent) => void): () => void {
    this.listeners.push(l);
    return () => {
      const i = this.listeners.indexOf(l);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  run(ms: number): void {
    this.scheduler.advance(ms);
  }

  /** Runs until `cond` holds, checking every `stepMs`; returns the virtual ms it took, or -1 past `maxMs`. */
  runUntil(cond: () => boolean, maxMs: number, stepMs = 50): number {
    const start = this.scheduler.monotonic();
    while (!cond()) {
      if (this.scheduler.monotonic() - start >= maxMs) return -1;
      this.scheduler.advance(stepMs);
    }
    return this.scheduler.monotonic() - start;
  }

  /** Kills member i without a goodbye (its socket and timers vanish). */
  crash(i: number): void {
    this.crashed.add(i);
    void this.nodes[i]!.stop();
  }

  /** Starts member i again with the same id, on a new address when `newAddress`. */
  restart(i: number, newAddress = true): MeshNode {
    const gen = (this.generation.get(i) ?? 0) + (newAddress ? 1 : 0);
    this.generation.set(i, gen);
    const node = this.makeNode(i, Simulation.address(i, gen));
    this.nodes[i] = node;
    this.crashed.delete(i);
    const seed = this.nodes.find((n, j) => j !== i && !this.crashed.has(j));
    node.start(seed ? [seed.address] : []);
    return node;
  }

  stall(i: number, ms: number): void {
    this.network.stall(this.nodes[i]!.address, ms);
  }

  partition(groups: number[][]): void {
    this.network.partition(groups.map((g) => g.map((i) => this.nodes[i]!.address)));
  }

  heal(): void {
    this.network.heal();
  }

  live(): number[] {
    return this.nodes.map((_, i) => i).filter((i) => !this.crashed.has(i));
  }

  /** What member `observer` believes about member `subject`. */
  view(observer: number, subject: number) {
    return this.nodes[observer]!.membership.get(Simulation.id(subject));
  }

  /** True when every live member sees every live member alive and every crashed one dead. */
  converged(): boolean {
    const live = this.live();
    for (const o of live) {
      for (let s = 0; s < this.nodes.length; s++) {
        if (s === o) continue;
        const v = this.view(o, s);
        if (this.crashed.has(s)) {
          if (v && v.state !== 'dead' && v.state !== 'left') return false;
        } else if (!v || v.state !== 'alive') return false;
      }
    }
    return true;
  }

  totalBytesOut(): number {
    return this.nodes.reduce((n, node) => n + node.metrics.bytesOut, 0);
  }
}
