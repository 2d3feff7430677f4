/**
 * The uplink's congestion window, in batches: AIMD (additive increase, multiplicative decrease,
 * as TCP Reno, RFC 5681 §3.1). Each fully acked window adds one batch, so a healthy link climbs to
 * `max` within a few round trips; an ack timeout, a nack or a reconnect halves it (never below
 * 1), so a struggling cloud or a thin link is not flooded with resends.
 */
export class SendWindow {
  private cwnd: number;
  /** Decreases counted, for stats. */
  decreases = 0;
  private ackedSinceDecrease = Infinity;

  constructor(
    readonly max: number,
    initial = Math.min(4, max),
  ) {
    this.cwnd = Math.max(1, Math.min(max, initial));
  }

  /** Batches that may be in flight now. */
  get limit(): number {
    return Math.max(1, Math.floor(this.cwnd));
  }

  /** `n` batches were acked: +1 batch per window's worth. */
  acked(n: number): void {
    if (n <= 0) return;
    this.ackedSinceDecrease += n;
    this.cwnd = Math.min(this.max, this.cwnd + n / Math.max(1, this.cwnd));
  }

  /**
   * A loss signal (timeout, nack, reconnect). Several signals from one window (every batch of it
   * timing out together) halve once: another halving needs an ack in between, as Reno reacts
   * once per loss event.
   */
  lost(): void {
    if (this.ackedSinceDecrease === 0) return;
    this.ackedSinceDecrease = 0;
    this.decreases++;
    this.cwnd = Math.max(1, Math.floor(this.cwnd / 2));
  }
}
