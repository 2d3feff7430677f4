import type { MemberStateName } from './messages.js';

/** What this member knows of another (or of itself). */
export interface Member {
  id: string;
  addr: string;
  /** Encoded MemberMeta, as gossiped. */
  meta: Buffer;
  incarnation: number;
  state: MemberStateName;
  /** Monotonic ms of the last state change. */
  stateChangeAt: number;
}

/**
 * SWIM's incarnation precedence (SWIM paper §4.2; FORMAT.md §5), as pure rules so they can be
 * tested on their own. `current` is what we hold about the member.
 */
export function aliveOverrides(incoming: number, current: Pick<Member, 'incarnation' | 'state'>): boolean {
  return incoming > current.incarnation;
}

export function suspectOverrides(incoming: number, current: Pick<Member, 'incarnation' | 'state'>): boolean {
  if (current.state === 'dead' || current.state === 'left') return false;
  if (current.state === 'suspect') return incoming > current.incarnation;
  return incoming >= current.incarnation;
}

export function deadOverrides(incoming: number, current: Pick<Member, 'incarnation' | 'state'>): boolean {
  if (current.state === 'dead' || current.state === 'left') return false;
  return incoming >= current.incarnation;
}

/** The incarnation a member takes to refute an accusation made at `accused`. */
export function refutingIncarnation(own: number, accused: number): number {
  // Saturates: incarnations above 0xFFFFFFFE never decode (codec.ts), so this bound is never hit
  // through the wire, only by ~4 billion refutations of one member.
  return Math.min(0xffffffff, Math.max(own, accused) + 1);
}
