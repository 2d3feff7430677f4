import type { Clock } from '@fieldmesh/device-sdk';

/**
 * A token bucket over the injected clock for metered links (`uplink.maxBytesPerSecond`). It may
 * go into debt by one batch: a batch larger than the bucket still goes (it cannot be cut), and the
 * debt is paid before the next one, so the long-run rate is held even for large batches.
 */
export class ByteRateCap {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: Clock,
    readonly bytesPerSecond: number,
    /** Bucket size: one second's worth by default, so a quiet link may send one burst at once. */
    readonly burstBytes = bytesPerSecond,
  ) {
    if (!(bytesPerSecond > 0)) throw new RangeError('bytesPerSecond must be > 0');
    this.tokens = burstBytes;
    this.last = clock.monotonic();
  }

  private refill(): void {
    const now = this.clock.monotonic();
    this.tokens = Math.min(this.burstBytes, this.tokens + ((now - this.last) * this.bytesPerSecond) / 1000);
    this.last = now;
  }

  /** Milliseconds until sending is allowed again (0: now). */
  waitMs(): number {
    this.refill();
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.bytesPerSecond);
  }

  /** Counts `bytes` as sent (resends too: they cost the metered link the same). */
  spend(bytes: number): void {
    this.refill();
    this.tokens -= bytes;
  }
}
