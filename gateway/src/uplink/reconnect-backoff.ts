/**
 * Exponential backoff with "equal jitter": the delay doubles per failed attempt up to `maxMs`,
 * and half of it is random, so a fleet of gateways that lost the same cloud does not reconnect
 * in lockstep (the thundering herd when the cloud comes back).
 */
export class ReconnectBackoff {
  private attempt = 0;

  constructor(
    readonly minMs = 500,
    readonly maxMs = 10_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** Delay before the next attempt; each call counts one more failure. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
  }

  /** A connection succeeded: start again from `minMs`. */
  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}
