/**
 * A flapping port or a noisy line must not flood the log (a Pi's SD card and journald suffer):
 * each key logs at most once per window, and the next line says how many were suppressed.
 */
import type { Clock, Logger } from '@fieldmesh/device-sdk';

export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
    /** ms between two lines of one key. */
    private readonly windowMs = 10_000,
  ) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    this.emit('warn', key, obj, msg);
  }

  error(key: string, obj: Record<string, unknown>, msg: string): void {
    this.emit('error', key, obj, msg);
  }

  private emit(level: 'warn' | 'error', key: string, obj: Record<string, unknown>, msg: string): void {
    const now = this.clock.monotonic();
    const entry = this.last.get(key);
    if (entry && now - entry.at < this.windowMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { at: now, suppressed: 0 });
    this.log[level](suppressed > 0 ? { ...obj, suppressed } : obj, msg);
  }
}
