import type { Clock, Logger } from '@fieldmesh/device-sdk';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';

/**
 * Logs refused input at most once per source per interval, with how many were suppressed in
 * between: a device stuck on a poison message must not flood the log (or the SD card). A thin
 * shape over device-sdk's RateLimitedLog: lines carry `source` and `suppressedSinceLast`.
 */
export class RejectLog {
  private readonly limited: RateLimitedLog;

  constructor(
    log: Logger,
    clock: Clock,
    intervalMs: number,
    /** Bounds the map: sources beyond it are forgotten oldest-first (a hostile id churn). */
    maxSources = 10_000,
  ) {
    this.limited = new RateLimitedLog(log, clock, { intervalMs, maxKeys: maxSources, suppressedField: 'suppressedSinceLast' });
  }

  note(source: string, fields: Record<string, unknown>, msg: string): void {
    this.limited.warn(source, { source, ...fields }, msg);
  }
}
