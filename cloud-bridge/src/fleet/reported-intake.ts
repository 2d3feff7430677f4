import { parseReported, type ReportedState } from '@fieldmesh/protocol';
import type { Clock } from '@fieldmesh/device-sdk';
import type { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import type { FleetStore } from './fleet-store.js';

/**
 * Reports stored per gateway per second at most; a faster stream is a bug or a flood and must
 * not turn into a database write per message (a report changes a few times per update).
 */
const MAX_REPORTS_PER_SECOND = 20;

export interface IntakeStats {
  accepted: number;
  /** Unparsable, oversized, or naming another gateway than its topic. */
  refused: number;
  /** Byte-identical to the gateway's previous report: nothing to store. */
  repeats: number;
  /** Over 20 a second from one gateway: held back; only the newest of them is taken, when the second is over. */
  throttled: number;
}

/**
 * Takes `fm/g/<gw>/fleet/reported` messages (the ACL lets only gw publish there; the topic
 * router hands only gw's own): parsed with parseReported, a report naming another gateway is
 * refused, so a report only ever updates its sender's record. A change of tags re-publishes
 * the gateway's desired state (its groups changed); outcomes and new refusals go to the history.
 */
export class ReportedIntake {
  readonly stats: IntakeStats = { accepted: 0, refused: 0, repeats: 0, throttled: 0 };
  private readonly last = new Map<string, { payload: string; windowStart: number; inWindow: number }>();
  private readonly deferred = new Map<string, Buffer>();
  private closed = false;

  constructor(
    private readonly store: FleetStore,
    private readonly clock: Clock,
    private readonly throttled: RateLimitedLog,
    private readonly onReport: (gateway: string, reported: ReportedState, tagsChanged: boolean) => void,
  ) {}

  receive(gateway: string, payload: Buffer): void {
    const parsed = parseReported(payload);
    if (!parsed.ok) return this.refuse(gateway, parsed.why);
    const r = parsed.value;
    if (r.gateway !== gateway) return this.refuse(gateway, `names gateway ${JSON.stringify(r.gateway)}, not its sender`);
    const text = payload.toString('utf8');
    const now = this.clock.monotonic();
    const seen = this.last.get(gateway);
    if (seen?.payload === text) {
      this.stats.repeats++;
      return;
    }
    if (seen && now - seen.windowStart < 1000 && seen.inWindow >= MAX_REPORTS_PER_SECOND) {
      this.stats.throttled++;
      this.throttled.warn(`fleet-reported-flood:${gateway}`, { gateway }, 'fleet reports faster than 20 a second held back; the newest is taken when the second is over');
      this.defer(gateway, payload, seen.windowStart + 1000 - now);
      return;
    }
    const fresh = !seen || now - seen.windowStart >= 1000;
    if (this.last.size > 100_000) this.last.clear();
    this.last.set(gateway, { payload: text, windowStart: fresh ? now : seen.windowStart, inWindow: fresh ? 1 : seen.inWindow + 1 });
    this.stats.accepted++;
    const before = this.store.gateway(gateway);
    const at = this.clock.now();
    this.record(gateway, before?.reported ?? null, r, at);
    const tags = [...new Set(r.tags)].sort();
    this.store.saveReported(gateway, r, tags, at);
    const tagsChanged = before === null || before.reported === null || JSON.stringify(before.tags) !== JSON.stringify(tags);
    this.onReport(gateway, r, tagsChanged);
  }

  /**
   * The newest held-back report of a gateway is taken at the end of its window, so a flood
   * costs one write a window and the last word of a gateway is never lost (reports are state:
   * only the newest matters). One pending report and one timer per gateway at most.
   */
  private defer(gateway: string, payload: Buffer, ms: number): void {
    const waiting = this.deferred.has(gateway);
    this.deferred.set(gateway, payload);
    if (waiting || this.closed) return;
    const t = this.clock.setTimeout(() => {
      const p = this.deferred.get(gateway);
      this.deferred.delete(gateway);
      if (!p || this.closed) return;
      try {
        this.receive(gateway, p);
      } catch (err) {
        this.throttled.warn(`fleet-reported-deferred:${gateway}`, { gateway, err: (err as Error).message }, 'held-back fleet report not stored');
      }
    }, Math.max(1, ms));
    t.unref?.();
  }

  close(): void {
    this.closed = true;
    this.deferred.clear();
  }

  /** History: a finished update (adopted, rolled back, refused) and each refusal not reported before. */
  private record(gateway: string, prev: ReportedState | null, r: ReportedState, at: number): void {
    const u = r.update;
    const p = prev?.update;
    if (u && u.outcome !== 'in-progress' && !(p && p.kind === u.kind && p.target === u.target && p.outcome === u.outcome && p.at === u.at)) {
      this.store.addEvent({ at, gateway, kind: 'update', detail: { artifact: u.kind, target: u.target, outcome: u.outcome, step: u.step, ...(u.reason !== undefined ? { reason: u.reason } : {}), running: r.running } });
    }
    const known = new Set((prev?.refused ?? []).map((x) => `${x.kind}|${x.target}|${x.reason}|${x.at}`));
    for (const x of r.refused) {
      if (known.has(`${x.kind}|${x.target}|${x.reason}|${x.at}`)) continue;
      this.store.addEvent({ at, gateway, kind: 'refused', detail: { artifact: x.kind, target: x.target, reason: x.reason, why: x.why } });
    }
  }

  private refuse(gateway: string, why: string): void {
    this.stats.refused++;
    this.throttled.warn(`fleet-reported:${gateway}`, { gateway, why }, 'fleet reported state refused');
  }
}
