/**
 * Lifeguard's local health multiplier (memberlist awareness.go, Lifeguard paper §4.1): a member
 * that misses nacks, or is accused and must refute, suspects its own health and slows its probing
 * and timeouts, so a starved node stops accusing healthy peers.
 */
export class Awareness {
  private score = 0;

  /** `max` is the multiplier cap: scores run 0..max-1. */
  constructor(private readonly max: number) {}

  applyDelta(delta: number): void {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta));
  }

  get healthScore(): number {
    return this.score;
  }

  scale(ms: number): number {
    return ms * (this.score + 1);
  }
}
