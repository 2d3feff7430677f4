import type { Clock, Timer } from '@fieldmesh/device-sdk';
import type { Awareness } from './awareness.js';
import { encodeMessage } from './codec.js';
import type { MeshTuning } from './config.js';
import type { Member } from './member.js';
import type { Membership } from './membership.js';
import type { IndirectPing, Ping } from './messages.js';
import type { MeshMetrics } from './metrics.js';

export interface AckWaiter {
  ack(): void;
  nack(): void;
}

/** What the prober needs from its node. */
export interface ProbeHost {
  readonly tuning: Readonly<MeshTuning>;
  readonly clock: Clock;
  readonly metrics: MeshMetrics;
  readonly awareness: Awareness;
  readonly membership: Membership;
  readonly acks: Map<number, AckWaiter>;
  nextSeq(): number;
  /** Sends encoded messages to `addr`, piggybacking queued updates. */
  send(addr: string, parts: Buffer[], piggyback?: boolean): void;
}

/**
 * SWIM failure detection with Lifeguard (memberlist state.go probeNode): a direct ping; after the
 * probe timeout, indirect pings through k members who nack if they hear nothing either; at the
 * end of the (health-scaled) interval, suspicion. Missed nacks raise our own health score: if
 * even the relays do not answer, the fault is probably ours.
 */
export class Prober {
  constructor(private readonly host: ProbeHost) {}

  /** Probes the next member in the round; returns ms until the next tick (health-scaled). */
  tick(): number {
    const h = this.host;
    const interval = h.tuning.lifeguard ? h.awareness.scale(h.tuning.probeIntervalMs) : h.tuning.probeIntervalMs;
    const target = h.membership.nextProbeTarget();
    if (target) this.probe(target, interval);
    return interval;
  }

  probe(target: Member, interval: number): void {
    const h = this.host;
    const t = h.tuning;
    const self = h.membership.self;
    const seq = h.nextSeq();
    const start = h.clock.monotonic();
    const incarnation = target.incarnation;
    let done = false;
    let indirect = false;
    let deferred = false;
    let nacks = 0;
    let expectedNacks = 0;
    let timeoutTimer: Timer | undefined;
    let deadlineTimer: Timer | undefined;
    let retryTimer: Timer | undefined;
    h.metrics.probes++;

    const finish = (healthDelta: number) => {
      done = true;
      h.acks.delete(seq);
      if (timeoutTimer) h.clock.clearTimeout(timeoutTimer);
      if (deadlineTimer) h.clock.clearTimeout(deadlineTimer);
      if (retryTimer) h.clock.clearTimeout(retryTimer);
      if (t.lifeguard && healthDelta !== 0) h.awareness.applyDelta(healthDelta);
    };
    h.acks.set(seq, {
      // A direct ack proves our own path healthy (-1); an ack via relays only says the target lives.
      ack: () => !done && finish(indirect ? 0 : -1),
      nack: () => {
        nacks++;
        h.metrics.nacksReceived++;
      },
    });

    const ping: Ping = { type: 'ping', seq, target: target.id, source: self.id, sourceAddr: self.addr };
    const parts = [encodeMessage(ping)];
    // Lifeguard's buddy system: tell a suspect directly, so it refutes now rather than when gossip finds it.
    if (t.lifeguard && target.state === 'suspect') {
      parts.push(encodeMessage({ type: 'suspect', incarnation: target.incarnation, node: target.id, from: self.id }));
    }
    h.send(target.addr, parts);

    // The probe timeout is not health-scaled (memberlist): scaling it would make a slow member
    // more tolerant of others' latency, not less accusatory.
    timeoutTimer = h.clock.setTimeout(() => {
      timeoutTimer = undefined;
      if (done || t.indirectChecks === 0) return;
      indirect = true;
      const relays = h.membership.randomMembers(t.indirectChecks, (m) => m.state === 'alive', target.id);
      const req: IndirectPing = {
        type: 'indirect-ping',
        seq,
        target: target.id,
        targetAddr: target.addr,
        nack: t.lifeguard,
        source: self.id,
        sourceAddr: self.addr,
      };
      const msg = encodeMessage(req);
      // A second direct ping beside the indirect ones: the UDP stand-in for memberlist's TCP
      // fallback ping, so one lost datagram on the direct path is not enough for a suspicion.
      h.send(target.addr, [encodeMessage(ping)]);
      for (const r of relays) {
        h.metrics.indirectProbes++;
        h.send(r.addr, [msg]);
      }
      expectedNacks = t.lifeguard ? relays.length : 0;
      // A third direct ping halfway from the probe timeout to the deadline. Under independent loss a probe fails only if
      // every path fails; each false suspicion then costs the whole mesh a suspect and a refutation
      // (N × retransmits datagrams), so the mesh-wide cost grows as N², while this ping costs a
      // few bytes on the ~1 in 5 probes that got here. Measured in test/bench/mesh.bench.ts.
      // And a fourth at three quarters: by then the relays have answered for nearly every live
      // target, so it goes only on probes that are failing anyway, and cuts what is left ~5x.
      const rest = interval - t.probeTimeoutMs;
      const retry = (at: number, next?: number) => {
        retryTimer = h.clock.setTimeout(() => {
          retryTimer = undefined;
          if (done) return;
          h.send(target.addr, [encodeMessage(ping)]);
          if (next !== undefined) retry(next - at);
        }, at);
      };
      retry(Math.floor(rest / 2), Math.floor((3 * rest) / 4));
    }, t.probeTimeoutMs);

    const fail = (due: number) => {
      deadlineTimer = undefined;
      if (done) return;
      if (t.stallThresholdMs > 0 && !deferred) {
        // Acks may be queued unread behind this timer (Node runs timers before reading sockets):
        // judge one loop turn later, or a probe timeout later if our own loop froze.
        deferred = true;
        const late = h.clock.monotonic() - due > t.stallThresholdMs;
        if (late) h.metrics.stallDeferrals++;
        deadlineTimer = h.clock.setTimeout(() => fail(h.clock.monotonic()), late ? t.probeTimeoutMs : 0);
        return;
      }
      finish(expectedNacks > 0 ? Math.max(0, expectedNacks - nacks) : 1);
      if (target.state !== 'alive' && target.state !== 'suspect') return;
      h.metrics.probeFailures++;
      h.membership.suspect({ type: 'suspect', incarnation, node: target.id, from: self.id });
    };
    deadlineTimer = h.clock.setTimeout(() => fail(start + interval), interval);
  }

  /**
   * Probes `msg.target` on behalf of `msg.source`, forwarding the ack, or a nack if asked.
   * The nack goes at 80% of the probe timeout (Lifeguard paper §4.2): the source asks us a probe
   * timeout into its interval, so a nack sent after a full probe timeout arrives after the
   * source's deadline, is never counted, and every failed probe raised the source's health score
   * by the full number of relays (slower probing, slower crash detection). The ping is sent again
   * halfway, so one lost datagram on our leg does not turn into a nack or a false suspicion.
   */
  relay(msg: IndirectPing): void {
    const h = this.host;
    const self = h.membership.self;
    const seq = h.nextSeq();
    const window = Math.floor(h.tuning.probeTimeoutMs * 0.8);
    let done = false;
    const ping = encodeMessage({ type: 'ping', seq, target: msg.target, source: self.id, sourceAddr: self.addr });
    const retry = h.clock.setTimeout(() => {
      if (!done) h.send(msg.targetAddr, [ping]);
    }, Math.floor(window / 2));
    const timer = h.clock.setTimeout(() => {
      if (done) return;
      done = true;
      h.acks.delete(seq);
      if (msg.nack) {
        h.metrics.nacksSent++;
        h.send(msg.sourceAddr, [encodeMessage({ type: 'nack', seq: msg.seq })]);
      }
    }, window);
    h.acks.set(seq, {
      ack: () => {
        if (done) return;
        done = true;
        h.clock.clearTimeout(timer);
        h.clock.clearTimeout(retry);
        h.acks.delete(seq);
        // Twice: this leg has no retry, and a lost forwarded ack of a live target is the
        // commonest way a whole probe fails (then N × retransmits datagrams of suspicion and
        // refutation). 41 bytes on the ~1 in 5 probes that go indirect.
        const ack = encodeMessage({ type: 'ack', seq: msg.seq });
        h.send(msg.sourceAddr, [ack]);
        h.send(msg.sourceAddr, [ack], false);
      },
      nack: () => {},
    });
    h.send(msg.targetAddr, [ping]);
  }
}
