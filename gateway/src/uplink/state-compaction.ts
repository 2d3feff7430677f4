import type { LoggedReading } from '../store/reading-log.js';

/**
 * State series keep only their last value upstream (log compaction, as a Kafka compacted topic):
 * a relay position or a config value is worth sending as it is now, not as every step it went
 * through during an outage. A state series is one matching a pattern of `uplink.stateSeries`:
 * `device/sensor` with `*` matching one whole level (`*\/state`, `relay1/*`).
 *
 * Compaction works on each read of the log (up to `batchReadings` readings): of each state
 * series only the newest reading of the read goes. The dropped ones are below the cursor once the
 * batch is acked (the batch's seq range covers them; FORMAT.md §4 C3 allows gaps), counted as
 * `readingsCompacted`. The newest reading of a read is always kept, so a batch's `lastSeq` is the
 * read's last seq.
 */
export class StateSeries {
  private readonly patterns: Array<[string, string]>;

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.map((p) => {
      const [d, s, ...rest] = p.split('/');
      if (!d || !s || rest.length > 0) throw new RangeError(`state series pattern ${JSON.stringify(p)} must be device/sensor (each may be *)`);
      return [d, s];
    });
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  matches(series: string): boolean {
    const i = series.indexOf('/');
    const d = series.slice(0, i);
    const s = series.slice(i + 1);
    return this.patterns.some(([pd, ps]) => (pd === '*' || pd === d) && (ps === '*' || ps === s));
  }

  /** The readings to send: all but the older values of each state series within `readings`. */
  compact(readings: LoggedReading[]): LoggedReading[] {
    if (this.patterns.length === 0) return readings;
    const newest = new Map<string, number>();
    for (const r of readings) if (this.matches(r.series)) newest.set(r.series, r.seq);
    if (newest.size === 0) return readings;
    return readings.filter((r) => {
      const keep = newest.get(r.series);
      return keep === undefined || keep === r.seq;
    });
  }
}
