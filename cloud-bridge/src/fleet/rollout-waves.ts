import type { ReportedState } from '@fieldmesh/protocol';
import type { MemberOutcome, RolloutMember, RolloutPlan, StoredRollout } from './fleet-store.js';

/**
 * The waves of a rollout over `gateways` (sorted, so the same fleet gives the same waves): the
 * canary wave is ceil(canaryPercent · N) gateways (at least one), the rest is split into
 * `plan.waves` waves as even as can be; empty waves are left out.
 */
export function planWaves(gateways: readonly string[], plan: Pick<RolloutPlan, 'canaryPercent' | 'waves'>): string[][] {
  const ids = [...gateways].sort();
  const n = ids.length;
  if (n === 0) return [];
  const canary = Math.min(n, Math.max(1, Math.ceil((plan.canaryPercent * n) / 100)));
  const waves = [ids.slice(0, canary)];
  const rest = ids.slice(canary);
  const count = Math.max(1, plan.waves);
  const base = Math.floor(rest.length / count);
  let extra = rest.length % count;
  let at = 0;
  for (let i = 0; i < count; i++) {
    const size = base + (extra > 0 ? 1 : 0);
    if (extra > 0) extra--;
    if (size > 0) waves.push(rest.slice(at, at + size));
    at += size;
  }
  return waves;
}

/**
 * What a gateway's report says of the rollout's target: adopted when it runs it and is not on
 * trial with it; failed when it reports the update rolled back or refused, or lists a refusal of
 * that target; else pending. A release runs from its first trial start, but counts only once it
 * confirmed: a canary that is rolled back after a few seconds must stop the rollout.
 */
export function memberOutcome(plan: Pick<RolloutPlan, 'version' | 'configRevision'>, r: ReportedState | null): { outcome: MemberOutcome; reason?: string } {
  if (r === null) return { outcome: 'pending' };
  const kind = plan.version !== undefined ? 'release' : 'config';
  const target = plan.version ?? plan.configRevision!;
  const u = r.update?.kind === kind && String(r.update.target) === String(target) ? r.update : undefined;
  if (kind === 'release' ? r.running.version === target : r.running.configRevision === target) return { outcome: u?.outcome === 'in-progress' ? 'pending' : 'adopted' };
  if (u && (u.outcome === 'rolled-back' || u.outcome === 'refused')) {
    return { outcome: 'failed', reason: `${u.outcome}${u.reason ? `: ${u.reason}` : ''}` };
  }
  const refusal = r.refused.find((x) => x.kind === kind && x.target === String(target));
  if (refusal) return { outcome: 'failed', reason: `refused: ${refusal.reason}` };
  return { outcome: 'pending' };
}

export interface WaveTally {
  size: number;
  adopted: number;
  failed: number;
  pending: number;
}

export function tally(members: readonly RolloutMember[]): WaveTally {
  const t = { size: members.length, adopted: 0, failed: 0, pending: 0 };
  for (const m of members) t[m.outcome]++;
  return t;
}

/** The failure share of a finished wave is over the cutoff (strictly: at exactly the cutoff it goes on). */
export function overCutoff(t: WaveTally, maxFailurePercent: number): boolean {
  return t.size > 0 && (t.failed * 100) / t.size > maxFailurePercent;
}

/** A rollout as `GET /api/fleet` shows it. */
export function rolloutView(r: StoredRollout): Record<string, unknown> {
  const waves = r.waves.map((members, index) => ({ index, canary: index === 0, ...tally(members), members }));
  const all = tally(r.waves.flat());
  return {
    id: r.id,
    state: r.state,
    ...r.plan,
    wave: r.wave,
    waveCount: r.waves.length,
    waveStartedAt: r.waveStartedAt,
    progress: { wave: r.wave, waves: r.waves.length, total: all.size, adopted: all.adopted, failed: all.failed, pending: all.pending, reached: r.waves.slice(0, r.wave + 1).flat().length },
    stopReason: r.stopReason,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    by: r.by,
    waves,
  };
}
