import type { Reading } from '@fieldmesh/device-sdk';
import type { LoggedReading } from '../store/reading-log.js';

/** Series names whose pattern verdict is cached; past this the cache starts over (memory bound). */
const MATCH_CACHE_MAX = 10_000;

/**
 * State series keep only their last value upstream (log compaction, as a Kafka compacted topic):
 * a relay position or a config value is worth sending as it is now, not as every step it went
 * through during an outage. A state series is one matching a pattern of `uplink.stateSeries`:
 * `device/sensor` with `*` matching one whole level (`*\/state`, `relay1/*`).
 *
 * Compaction spans the whole backlog: the gateway tells `observe` the seqs it commits, so a state
 * reading is dropped whenever a newer value of its series is in the log, even one many reads
 * later (after a restart the map is empty until new values arrive: more is sent, never less).
 * Within a read, too, only the newest value goes. The dropped ones are below the cursor once the
 * batch is acked (the batch's seq range covers them; FORMAT.md §4 C3 allows gaps), counted as
 * `readingsCompacted`. The last reading of a read is always kept, so a batch's `lastSeq` is the
 * read's last seq and the send position always moves.
 */
export class StateSeries {
  private readonly patterns: Array<[string, string]>;
  /** Newest committed seq of each state series (only state series: a handful). */
  private readonly latest = new Map<string, number>();
  private readonly matchCache = new Map<string, boolean>();

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

  /** Records committed readings (seq firstSeq + i): the newest value of each state series. */
  observe(firstSeq: number, readings: readonly Reading[]): void {
    if (this.patterns.length === 0) return;
    for (let i = 0; i < readings.length; i++) {
      const series = readings[i]!.series;
      let state = this.matchCache.get(series);
      if (state === undefined) {
        if (this.matchCache.size >= MATCH_CACHE_MAX) this.matchCache.clear();
        state = this.matches(series);
        this.matchCache.set(series, state);
      }
      if (state) this.latest.set(series, Math.max(firstSeq + i, this.latest.get(series) ?? 0));
    }
  }

  /** The readings to send: all but the values of each state series that a newer one replaces. */
  compact(readings: LoggedReading[]): LoggedReading[] {
    if (this.patterns.length === 0) return readings;
    const newest = new Map<string, number>();
    for (const r of readings) if (this.matches(r.series)) newest.set(r.series, Math.max(r.seq, this.latest.get(r.series) ?? 0));
    if (newest.size === 0) return readings;
    const last = readings[readings.length - 1];
    return readings.filter((r) => {
      const keep = newest.get(r.series);
      return keep === undefined || keep === r.seq || r === last;
    });
  }
}
