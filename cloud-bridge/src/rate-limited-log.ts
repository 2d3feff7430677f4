import type { Clock, Logger } from '@fieldmesh/device-sdk';

/**
 * Logs a warning at most once per key per interval, with how many were suppressed, so a
 * misbehaving gateway cannot flood the log (STYLE.md habit 7: count it, log it rate-limited).
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly intervalMs = 60_000,
  ) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    const now = this.clock.monotonic();
    const seen = this.last.get(key);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    // Bound the map: keys come from hostile input (gateway ids, reasons).
    if (this.last.size > 10_000) this.last.clear();
    this.logger.warn({ ...obj, suppressed: seen?.suppressed ?? 0 }, msg);
    this.last.set(key, { at: now, suppressed: 0 });
  }
}
