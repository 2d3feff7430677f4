import type { Clock } from './clock.js';
import type { Logger } from './logger.js';

export interface RateLimitedLogOptions {
  /** ms between two lines of one key (monotonic time). Default 60 000. */
  intervalMs?: number;
  /**
   * Keys remembered at most. Keys come from hostile input (device ids, gateway ids, reasons), so
   * the map is bounded; past it the key that logged longest ago is forgotten. Default 10 000.
   */
  maxKeys?: number;
  /** Field of a line that carries how many lines of its key were suppressed since the last one. Default `suppressed`. */
  suppressedField?: string;
  /** Put the count on every line, 0 included (default), or only when something was suppressed. */
  countZero?: boolean;
}

type Level = 'info' | 'warn' | 'error';

/**
 * Logs at most once per key per interval and says on the next line how many were suppressed in
 * between: a device stuck on a poison message, a flapping serial port or a hostile peer must not
 * flood the log, journald or a Pi's SD card (so: count it in a metric, log it rate-limited, carry on).
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  private readonly intervalMs: number;
  private readonly maxKeys: number;
  private readonly suppressedField: string;
  private readonly countZero: boolean;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    opts: RateLimitedLogOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 60_000;
    this.maxKeys = opts.maxKeys ?? 10_000;
    this.suppressedField = opts.suppressedField ?? 'suppressed';
    this.countZero = opts.countZero ?? true;
    if (!(this.intervalMs >= 0) || !(this.maxKeys >= 1)) {
      throw new RangeError(`RateLimitedLog: intervalMs (${this.intervalMs}) must be >= 0 and maxKeys (${this.maxKeys}) >= 1`);
    }
  }

  /** Returns whether the line was written (false: suppressed and counted). */
  info(key: string, fields: Record<string, unknown>, msg: string): boolean {
    return this.emit('info', key, fields, msg);
  }

  warn(key: string, fields: Record<string, unknown>, msg: string): boolean {
    return this.emit('warn', key, fields, msg);
  }

  error(key: string, fields: Record<string, unknown>, msg: string): boolean {
    return this.emit('error', key, fields, msg);
  }

  private emit(level: Level, key: string, fields: Record<string, unknown>, msg: string): boolean {
    const now = this.clock.monotonic();
    const seen = this.last.get(key);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return false;
    }
    // Delete and re-insert so the map's order is "logged longest ago first" for the eviction.
    this.last.delete(key);
    if (this.last.size >= this.maxKeys) this.last.delete(this.last.keys().next().value!);
    this.last.set(key, { at: now, suppressed: 0 });
    const suppressed = seen?.suppressed ?? 0;
    this.logger[level](suppressed > 0 || this.countZero ? { ...fields, [this.suppressedField]: suppressed } : fields, msg);
    return true;
  }
}
