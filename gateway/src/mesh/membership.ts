import type { Clock } from '@fieldmesh/device-sdk';
import type { Awareness } from './awareness.js';
import type { MeshTuning } from './config.js';
import { aliveOverrides, deadOverrides, refutingIncarnation, type Member } from './member.js';
import type { Alive, Dead, MemberStateName, Ping, PushPullEntry, Suspect } from './messages.js';
import type { MeshMetrics } from './metrics.js';
import { randomInt, shuffle, type Random } from './random.js';
import { Suspicion, suspicionMinMs } from './suspicion.js';

export type MemberEventType = 'join' | 'update' | 'suspect' | 'alive' | 'dead' | 'left';

export interface MemberEvent {
  type: MemberEventType;
  member: Readonly<Member>;
  previous?: MemberStateName;
}

/** What the membership rules need from the node around them. */
export interface MembershipHost {
  readonly tuning: Readonly<MeshTuning>;
  readonly clock: Clock;
  readonly random: Random;
  readonly metrics: MeshMetrics;
  readonly awareness: Awareness;
  /** Queue a message for piggybacked dissemination, replacing older news about `about`. */
  broadcast(about: string, msg: Alive | Suspect | Dead): void;
  /** Sends one message straight to `addr` (a refutation to the member holding the accusation). */
  sendDirect(addr: string, msg: Alive | Suspect | Dead | Ping): void;
  emit(event: MemberEvent): void;
  /** True while leaving: a death about ourselves is then accepted, not refuted. */
  readonly leaving: boolean;
}

/**
 * The member list and SWIM's state rules (memberlist state.go's aliveNode/suspectNode/deadNode/
 * mergeState): who is alive, suspect or dead at which incarnation, the suspicion timers, and the
 * randomized round-robin probe order.
 */
export class Membership {
  readonly self: Member;
  private readonly byId = new Map<string, Member>();
  /** Every member but self, for uniform random picks; order is irrelevant. */
  private readonly others: Member[] = [];
  private readonly suspicions = new Map<string, Suspicion>();
  private probeOrder: Member[] = [];
  private probeIndex = 0;
  private live = 1;
  private deadCount = 0;

  constructor(
    private readonly host: MembershipHost,
    self: { id: string; addr: string; meta: Buffer; incarnation?: number },
  ) {
    this.self = { ...self, incarnation: self.incarnation ?? 0, state: 'alive', stateChangeAt: host.clock.monotonic() };
    this.byId.set(self.id, this.self);
  }

  get(id: string): Member | undefined {
    return this.byId.get(id);
  }

  all(): Member[] {
    return [this.self, ...this.others];
  }

  /** Members in state dead (not left): the reconnect loop's candidates. */
  deadMembers(): number {
    return this.deadCount;
  }

  /** Alive and suspect members, self included: the N of SWIM's formulas. */
  liveCount(): number {
    return this.live;
  }

  counts(): Record<MemberStateName, number> {
    const c = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of this.byId.values()) c[m.state]++;
    return c;
  }

  /** Up to k distinct random members other than self and `exclude`, passing `accept`. */
  randomMembers(k: number, accept: (m: Member) => boolean, exclude?: string): Member[] {
    const out: Member[] = [];
    const n = this.others.length;
    if (n === 0 || k <= 0) return out;
    // Rejection sampling: O(k) when most members qualify, the usual case; bounded tries otherwise.
    for (let tries = 0; tries < 3 * n + 3 * k && out.length < k; tries++) {
      const m = this.others[randomInt(this.host.random, n)]!;
      if (m.id === exclude || out.includes(m) || !accept(m)) continue;
      out.push(m);
    }
    return out;
  }

  /** Next member to probe: a shuffled round, reshuffled at each end (SWIM §4.3). */
  nextProbeTarget(): Member | undefined {
    for (let checked = 0; checked <= this.probeOrder.length; checked++) {
      if (this.probeIndex >= this.probeOrder.length) {
        this.reshuffle();
        if (this.probeOrder.length === 0) return undefined;
      }
      const m = this.probeOrder[this.probeIndex++]!;
      if (m.state === 'alive' || m.state === 'suspect') return m;
    }
    return undefined;
  }

  private reshuffle(): void {
    this.reapDead();
    this.probeOrder = shuffle(this.host.random, this.others.filter((m) => m.state === 'alive' || m.state === 'suspect'));
    this.probeIndex = 0;
  }

  private reapDead(): void {
    const reap = this.host.tuning.deadReapMs;
    if (reap <= 0) return;
    const now = this.host.clock.monotonic();
    for (let i = this.others.length - 1; i >= 0; i--) {
      const m = this.others[i]!;
      if ((m.state === 'dead' || m.state === 'left') && now - m.stateChangeAt > reap) {
        this.others[i] = this.others[this.others.length - 1]!;
        this.others.pop();
        this.byId.delete(m.id);
        if (m.state === 'dead') this.deadCount--;
      }
    }
  }

  private setState(m: Member, state: MemberStateName): MemberStateName {
    const prev = m.state;
    const wasLive = prev === 'alive' || prev === 'suspect';
    const isLive = state === 'alive' || state === 'suspect';
    if (wasLive && !isLive) this.live--;
    if (!wasLive && isLive) this.live++;
    if (prev === 'dead') this.deadCount--;
    if (state === 'dead') this.deadCount++;
    m.state = state;
    m.stateChangeAt = this.host.clock.monotonic();
    return prev;
  }

  /**
   * Inserts a member as known without gossiping or emitting: a simulator starting from a converged
   * mesh (a thousand joins would otherwise dominate the run), or a restored snapshot.
   */
  adopt(e: PushPullEntry): void {
    if (e.node === this.self.id || this.byId.has(e.node)) return;
    const m: Member = { id: e.node, addr: e.addr, meta: e.meta, incarnation: e.incarnation, state: 'dead', stateChangeAt: this.host.clock.monotonic() };
    this.deadCount++;
    this.byId.set(m.id, m);
    this.others.push(m);
    this.setState(m, e.state);
  }

  /** Handles alive news. */
  alive(a: Alive): void {
    const host = this.host;
    if (a.node === this.self.id) {
      // Someone speaks of us with an incarnation we never had, or with another address or meta
      // at ours: an old life of ours (restart) or a stale view. Refute with a higher incarnation.
      const differs = a.addr !== this.self.addr || !a.meta.equals(this.self.meta);
      if (a.incarnation > this.self.incarnation || (a.incarnation === this.self.incarnation && differs)) this.refute(a.incarnation);
      return;
    }
    let m = this.byId.get(a.node);
    if (!m) {
      m = { id: a.node, addr: a.addr, meta: a.meta, incarnation: a.incarnation, state: 'dead', stateChangeAt: host.clock.monotonic() };
      this.deadCount++;
      this.byId.set(m.id, m);
      this.others.push(m);
      // A random slot in the current round, so a new member is probed within about one round.
      const at = this.probeIndex + randomInt(host.random, this.probeOrder.length - this.probeIndex + 1);
      this.probeOrder.splice(at, 0, m);
      this.setState(m, 'alive');
      host.broadcast(a.node, a);
      host.emit({ type: 'join', member: m });
      return;
    }
    if (!aliveOverrides(a.incarnation, m)) return;
    this.stopSuspicion(m.id);
    // A higher incarnation carries the member's current address: a restart with a new address is
    // accepted at once (memberlist would refuse it as a conflict while the old one looks alive).
    m.addr = a.addr;
    m.meta = a.meta;
    m.incarnation = a.incarnation;
    const prev = this.setState(m, 'alive');
    host.broadcast(a.node, a);
    if (prev === 'dead' || prev === 'left') {
      if (!this.probeOrder.includes(m)) this.probeOrder.splice(this.probeIndex + randomInt(host.random, this.probeOrder.length - this.probeIndex + 1), 0, m);
      host.emit({ type: 'join', member: m, previous: prev });
    } else host.emit({ type: prev === 'suspect' ? 'alive' : 'update', member: m, previous: prev });
  }

  /** `fromAddr`: who sent us the accusation, told directly if it is about us. */
  suspect(s: Suspect, fromAddr?: string): void {
    const host = this.host;
    const m = this.byId.get(s.node);
    if (!m) return;
    if (s.incarnation < m.incarnation) {
      // A stale accusation of us: the sender missed our refutation. Repair its view directly,
      // or its suspicion runs out and it declares us dead.
      if (m === this.self && fromAddr) host.sendDirect(fromAddr, this.selfAlive());
      return;
    }
    if (m.state === 'suspect') {
      const timer = this.suspicions.get(m.id);
      if (timer && timer.confirm(s.from)) host.broadcast(s.node, s);
      return;
    }
    if (m.state === 'dead' || m.state === 'left') return;
    if (m === this.self) {
      this.refute(s.incarnation, fromAddr);
      return;
    }
    host.broadcast(s.node, s);
    m.incarnation = s.incarnation;
    this.setState(m, 'suspect');
    host.metrics.suspicions++;
    const t = host.tuning;
    const n = this.live;
    let k = t.lifeguard ? t.suspicionMult - 2 : 0;
    if (n - 2 < k) k = 0;
    const min = suspicionMinMs(t.suspicionMult, n, t.probeIntervalMs);
    const max = t.lifeguard ? t.suspicionMaxTimeoutMult * min : min;
    const incarnation = s.incarnation;
    const declare = () => {
      this.suspicions.delete(m.id);
      if (m.state === 'suspect' && m.incarnation === incarnation) this.dead({ type: 'dead', incarnation, node: m.id, from: this.self.id });
    };
    // The stall guard's last chance (a probe timeout) is part of the timeout, not added to it.
    const guard = t.stallThresholdMs > 0 ? Math.min(t.probeTimeoutMs, Math.floor(min / 2)) : 0;
    const lastChance = () => {
      if (m.state !== 'suspect' || m.incarnation !== incarnation) return this.suspicions.delete(m.id);
      // Stall guard: tell the suspect directly, twice half a probe timeout apart (one lost datagram
      // must not kill). A live member answers with its current alive (refuting, or repairing our
      // stale view) before we declare it dead.
      const tell = () => {
        if (m.state === 'suspect' && m.incarnation === incarnation) host.sendDirect(m.addr, { type: 'suspect', incarnation, node: m.id, from: this.self.id });
      };
      tell();
      host.clock.setTimeout(tell, Math.floor(guard / 2));
      host.clock.setTimeout(declare, guard);
    };
    const suspicion = new Suspicion(s.from, k, min - guard, max - guard, host.clock, (_confirmations, lateMs) => {
      if (t.stallThresholdMs <= 0) return declare();
      // Node runs due timers before it reads the socket, so after any pause the refutation may
      // sit unread behind this timer: decide one loop turn later, after the datagrams. If our
      // loop froze past the deadline, the refutation may still be on its way: wait a probe timeout.
      if (lateMs > t.stallThresholdMs) host.metrics.stallDeferrals++;
      host.clock.setTimeout(lastChance, lateMs > t.stallThresholdMs ? t.probeTimeoutMs : 0);
    });
    this.suspicions.set(m.id, suspicion);
    host.emit({ type: 'suspect', member: m, previous: 'alive' });
  }

  dead(d: Dead, fromAddr?: string): void {
    const host = this.host;
    const m = this.byId.get(d.node);
    if (!m) return;
    if (m === this.self && !host.leaving) {
      if (d.incarnation >= m.incarnation) this.refute(d.incarnation, fromAddr);
      else if (fromAddr) host.sendDirect(fromAddr, this.selfAlive());
      return;
    }
    if (!deadOverrides(d.incarnation, m)) return;
    this.stopSuspicion(m.id);
    host.broadcast(d.node, d);
    m.incarnation = d.incarnation;
    const left = d.from === d.node;
    const prev = this.setState(m, left ? 'left' : 'dead');
    if (!left && m !== this.self) host.metrics.deaths++;
    host.emit({ type: left ? 'left' : 'dead', member: m, previous: prev });
  }

  /**
   * Anti-entropy merge (memberlist mergeState). A remote "dead" becomes a local suspicion: a stale
   * view (the far side of a healed partition) must not kill a live member without its chance to refute.
   */
  merge(entries: PushPullEntry[], fromAddr?: string): void {
    for (const e of entries) {
      switch (e.state) {
        case 'alive':
          this.alive({ type: 'alive', incarnation: e.incarnation, node: e.node, addr: e.addr, meta: e.meta });
          break;
        case 'left':
          this.dead({ type: 'dead', incarnation: e.incarnation, node: e.node, from: e.node }, fromAddr);
          break;
        case 'dead':
        case 'suspect':
          this.suspect({ type: 'suspect', incarnation: e.incarnation, node: e.node, from: this.self.id }, fromAddr);
          break;
      }
    }
  }

  refute(accused: number, accuserAddr?: string): void {
    const host = this.host;
    this.self.incarnation = refutingIncarnation(this.self.incarnation, accused);
    host.metrics.refutations++;
    // Being accused is a hint that we are the slow one (Lifeguard).
    if (host.tuning.lifeguard) host.awareness.applyDelta(1);
    const alive = this.selfAlive();
    host.broadcast(this.self.id, alive);
    if (accuserAddr && host.tuning.stallThresholdMs > 0) host.sendDirect(accuserAddr, alive);
  }

  /** Our own news: a new incarnation with new metadata (memberlist UpdateNode). */
  bump(meta?: Buffer): void {
    if (meta) this.self.meta = meta;
    this.self.incarnation = refutingIncarnation(this.self.incarnation, this.self.incarnation);
    this.host.broadcast(this.self.id, this.selfAlive());
  }

  selfAlive(): Alive {
    return { type: 'alive', incarnation: this.self.incarnation, node: this.self.id, addr: this.self.addr, meta: this.self.meta };
  }

  entry(m: Member): PushPullEntry {
    return { node: m.id, addr: m.addr, incarnation: m.incarnation, state: m.state, meta: m.meta };
  }

  private stopSuspicion(id: string): void {
    const s = this.suspicions.get(id);
    if (s) {
      s.stop();
      this.suspicions.delete(id);
    }
  }

  stopAll(): void {
    for (const s of this.suspicions.values()) s.stop();
    this.suspicions.clear();
  }
}
