import { isSeriesName } from '@fieldmesh/device-sdk';
import { QueryError } from './errors.js';

/** Limits of the query API; each bounds the work and the response size of one request. */
export interface QueryLimits {
  /** Most points a stepped query may return: (to - from) / step, rounded up. Default 10,000. */
  maxPoints: number;
  /** Readings per raw page when `limit` is not given. Default 1,000. */
  defaultLimit: number;
  /** Largest `limit`. Default 10,000 (about 1 MB of JSON). */
  maxLimit: number;
  /** Most raw readings a stepped query may aggregate (steps not a multiple of a minute). Default
   * 200,000 (two days of one 1 Hz series, about 0.2 s of the event loop, which ingest shares). */
  maxRawScan: number;
  /** Most wall time such a query may spend reading raw data, ms. Default 1,000. */
  maxRawScanMs: number;
}

export const QUERY_LIMITS: Readonly<QueryLimits> = Object.freeze({ maxPoints: 10_000, defaultLimit: 1000, maxLimit: 10_000, maxRawScan: 200_000, maxRawScanMs: 1000 });

export interface ReadingsQuery {
  series: string;
  /** Inclusive, ms since the epoch. */
  from: number;
  /** Exclusive, ms since the epoch. */
  to: number;
  step?: number;
  limit: number;
  cursor?: string;
}

const INTEGER = /^-?\d{1,16}$/;

function single(params: URLSearchParams, name: string): string | undefined {
  const all = params.getAll(name);
  if (all.length > 1) throw new QueryError('FM_ERR_QUERY_DUPLICATE_PARAM', name, `given ${all.length} times`);
  return all[0];
}

function integer(params: URLSearchParams, name: string, required: boolean): number | undefined {
  const raw = single(params, name);
  if (raw === undefined || raw === '') {
    if (required) throw new QueryError('FM_ERR_QUERY_MISSING_PARAM', name, 'missing');
    return undefined;
  }
  const n = Number(raw);
  if (!INTEGER.test(raw) || !Number.isSafeInteger(n)) {
    throw new QueryError('FM_ERR_QUERY_NOT_A_NUMBER', name, `'${raw.slice(0, 40)}' is not a whole number of milliseconds`);
  }
  return n;
}

export function checkKnown(params: URLSearchParams, known: readonly string[]): void {
  for (const k of params.keys()) {
    if (!known.includes(k)) throw new QueryError('FM_ERR_QUERY_UNKNOWN_PARAM', k, `unknown parameter (accepted: ${known.join(', ')})`);
  }
}

/** Validates `GET /api/readings` parameters; throws a QueryError (→ 400) naming the parameter. */
export function parseReadingsQuery(params: URLSearchParams, limits: QueryLimits = QUERY_LIMITS): ReadingsQuery {
  checkKnown(params, ['series', 'from', 'to', 'step', 'limit', 'cursor']);
  const series = single(params, 'series');
  if (series === undefined || series === '') throw new QueryError('FM_ERR_QUERY_MISSING_PARAM', 'series', 'missing');
  if (!isSeriesName(series)) throw new QueryError('FM_ERR_QUERY_BAD_SERIES', 'series', `'${series.slice(0, 80)}' is not a series name`);
  const from = integer(params, 'from', true)!;
  const to = integer(params, 'to', true)!;
  if (from > to) throw new QueryError('FM_ERR_QUERY_RANGE', 'from', `from (${from}) is after to (${to})`);
  const step = integer(params, 'step', false);
  const limitRaw = integer(params, 'limit', false);
  const cursor = single(params, 'cursor');
  const q: ReadingsQuery = { series, from, to, limit: limitRaw ?? limits.defaultLimit };
  if (limitRaw !== undefined && (limitRaw < 1 || limitRaw > limits.maxLimit)) {
    throw new QueryError('FM_ERR_QUERY_BAD_LIMIT', 'limit', `${limitRaw} is not in 1..${limits.maxLimit}`);
  }
  if (step !== undefined) {
    if (step <= 0) throw new QueryError('FM_ERR_QUERY_BAD_STEP', 'step', `${step} is not positive`);
    const points = Math.ceil(to / step) - Math.floor(from / step);
    if (points > limits.maxPoints) {
      throw new QueryError('FM_ERR_QUERY_TOO_MANY_POINTS', 'step', `the range holds ${points} steps of ${step} ms; the limit is ${limits.maxPoints}`);
    }
    if (cursor !== undefined) throw new QueryError('FM_ERR_QUERY_BAD_CURSOR', 'cursor', 'stepped queries are not paged');
    q.step = step;
  }
  if (cursor !== undefined) q.cursor = cursor;
  return q;
}
