import type { Clock, Logger } from '@fieldmesh/device-sdk';

/**
 * Logs refused input at most once per source per interval, with how many were suppressed in
 * between: a device stuck on a poison message must not flood the log (or the SD card).
 */
export class RejectLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly intervalMs: number,
    /** Bounds the map: sources beyond it are forgotten oldest-first (a hostile id churn). */
    private readonly maxSources = 10_000,
  ) {}

  note(source: string, fields: Record<string, unknown>, msg: string): void {
    const now = this.clock.monotonic();
    const seen = this.last.get(source);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    this.last.delete(source);
    if (this.last.size >= this.maxSources) this.last.delete(this.last.keys().next().value!);
    this.last.set(source, { at: now, suppressed: 0 });
    this.log.warn({ source, ...fields, suppressedSinceLast: seen?.suppressed ?? 0 }, msg);
  }
}
