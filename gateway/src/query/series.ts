import type { ReadingValue } from '@fieldmesh/device-sdk';
import { compilePattern } from '../series/pattern.js';
import type { LatestValue } from '../rollups/store.js';
import { QueryError } from './errors.js';
import { checkKnown } from './params.js';

export interface SeriesInfo {
  series: string;
  lastTs: number;
  lastValue: ReadingValue | null;
  unit?: string;
}

/**
 * `GET /api/series[?match=pattern]`: every series with its latest value, time and unit, by name.
 * `match` takes a rule pattern (`boiler/*`, `*\/temperature`). Non-finite values read as null
 * (JSON has no NaN).
 */
export function listSeries(params: URLSearchParams, latest: () => readonly LatestValue[]): { series: SeriesInfo[] } {
  checkKnown(params, ['match']);
  const match = params.get('match');
  let keep: (s: string) => boolean = () => true;
  if (match !== null) {
    const p = compilePattern(match);
    if (typeof p === 'string') throw new QueryError('FM_ERR_QUERY_BAD_SERIES', 'match', p);
    keep = (s) => p.matches(s);
  }
  const series: SeriesInfo[] = [];
  for (const l of latest()) {
    if (!keep(l.series)) continue;
    const lastValue = typeof l.value === 'number' && !Number.isFinite(l.value) ? null : l.value;
    series.push(l.unit === undefined ? { series: l.series, lastTs: l.ts, lastValue } : { series: l.series, lastTs: l.ts, lastValue, unit: l.unit });
  }
  return { series };
}
