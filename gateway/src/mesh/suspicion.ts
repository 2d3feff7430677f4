import type { Clock, Timer } from '@fieldmesh/device-sdk';

/**
 * Lifeguard's dynamic suspicion timeout (as in hashicorp/memberlist suspicion.go; Lifeguard paper §4.2): it starts at `max`
 * and falls toward `min` as independent members confirm the suspicion,
 *   timeout(C) = max(min, max − (max − min) · log(C + 1) / log(k + 1)),
 * so a member suspected by one (perhaps slow) accuser gets long to refute, and a member many
 * agree on is declared dead quickly.
 */
export function suspicionTimeout(confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs;
  const frac = Math.log(confirmations + 1) / Math.log(k + 1);
  const raw = Math.floor(maxMs - frac * (maxMs - minMs));
  return Math.max(minMs, raw);
}

/** min = suspicionMult × max(1, log10 N) × probeInterval. */
export function suspicionMinMs(suspicionMult: number, n: number, probeIntervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor(suspicionMult * nodeScale * probeIntervalMs);
}

export class Suspicion {
  private confirmations = new Set<string>();
  private timer?: Timer;
  private readonly start: number;
  private done = false;

  /**
   * `k`: confirmations wanted to reach `min` (0: fire at `min`). `onTimeout` gets the number of
   * confirmations and how late the timer fired (ms), which reveals a stalled event loop.
   */
  constructor(
    from: string,
    private readonly k: number,
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly clock: Clock,
    private readonly onTimeout: (confirmations: number, lateMs: number) => void,
  ) {
    this.confirmations.add(from);
    this.start = clock.monotonic();
    this.arm(k < 1 ? minMs : maxMs);
  }

  private arm(totalMs: number): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    const due = this.start + totalMs;
    const wait = Math.max(0, due - this.clock.monotonic());
    this.timer = this.clock.setTimeout(() => {
      if (this.done) return;
      this.done = true;
      this.onTimeout(this.confirmations.size - 1, this.clock.monotonic() - due);
    }, wait);
  }

  /** A new independent accuser; returns true if it counted (so the suspicion is re-gossiped). */
  confirm(from: string): boolean {
    if (this.done || this.confirmations.size - 1 >= this.k || this.confirmations.has(from)) return false;
    this.confirmations.add(from);
    this.arm(suspicionTimeout(this.confirmations.size - 1, this.k, this.minMs, this.maxMs));
    return true;
  }

  stop(): void {
    this.done = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
  }
}
