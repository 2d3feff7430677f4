import { createHash } from 'node:crypto';

/**
 * Rendezvous (highest random weight) hashing: each origin ranks every candidate by
 * hash(origin, candidate) and takes the top k. The choice is stable (a member joining or leaving
 * moves only the origins that ranked it in their top k) and spreads origins evenly over members,
 * with no coordination: every gateway computes the same answer from the same member list.
 */
export function pickBuddies(origin: string, candidates: readonly string[], k: number): string[] {
  return candidates
    .filter((c) => c !== origin)
    .map((c) => ({ c, w: createHash('sha256').update(origin).update('\0').update(c).digest().readBigUInt64BE(0) }))
    .sort((a, b) => (a.w > b.w ? -1 : a.w < b.w ? 1 : a.c < b.c ? -1 : 1))
    .slice(0, Math.max(0, k))
    .map((x) => x.c);
}
