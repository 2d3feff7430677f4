import type { AlertEvent } from '../alerts/event.js';
import type { LatestValue } from '../rollups/store.js';
import { QueryError, type QueryErrorCode } from './errors.js';
import { checkKnown, parseReadingsQuery, QUERY_LIMITS, type QueryLimits } from './params.js';
import type { RawReadingSource } from './raw-source.js';
import { queryReadings, type RollupSource } from './readings.js';
import { listSeries } from './series.js';

export interface QueryApiDeps {
  raw: RawReadingSource;
  rollups: RollupSource & { latest(): readonly LatestValue[]; latestOf(series: string): LatestValue | undefined };
  /** Open alerts, for `GET /api/alerts`; omitted → the route answers an empty list. */
  openAlerts?: () => AlertEvent[];
  /** Alert history: events with seq > after, oldest first (`GET /api/alerts?after=`). */
  alertEvents?: (after: number, limit: number) => AlertEvent[];
  limits?: QueryLimits;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** The JSON routes this component serves; the gateway's HTTP server registers each path. */
export const QUERY_ROUTES = ['/api/series', '/api/readings', '/api/latest', '/api/alerts'] as const;

/**
 * The local query API, independent of the HTTP server: `handle` takes a GET's path and query
 * parameters and returns status and JSON body. Parameter errors become 400 with
 * `{ error: code, reason: message, param }` (the gateway HTTP API's error shape); anything unexpected is the server's 500 to produce.
 *
 * - `GET /api/series[?match=pattern]` → `{ series: [{ series, lastTs, lastValue, unit? }] }`
 * - `GET /api/readings?series=&from=&to=[&step=][&limit=][&cursor=]` → see queryReadings
 * - `GET /api/latest?series=a/b` → `{ series, ts, value, unit? }`, 404 when never seen
 * - `GET /api/alerts` → `{ open: [alert payload…] }`; with `after=SEQ[&limit=N]` also
 *   `events` (history, oldest first) and `next` (the `after` of the following page, or null)
 */
export class QueryApi {
  private readonly limits: QueryLimits;

  constructor(private readonly deps: QueryApiDeps) {
    this.limits = deps.limits ?? QUERY_LIMITS;
  }

  handle(path: string, params: URLSearchParams): ApiResponse | undefined {
    try {
      switch (path) {
        case '/api/series':
          return { status: 200, body: listSeries(params, () => this.deps.rollups.latest()) };
        case '/api/readings':
          return { status: 200, body: queryReadings(parseReadingsQuery(params, this.limits), this.deps.raw, this.deps.rollups, undefined, this.limits) };
        case '/api/latest': {
          checkKnown(params, ['series']);
          const series = params.get('series');
          if (!series) throw new QueryError('FM_ERR_QUERY_MISSING_PARAM', 'series', 'missing');
          const l = this.deps.rollups.latestOf(series);
          if (!l) return { status: 404, body: { error: 'FM_ERR_QUERY_NO_SUCH_SERIES' satisfies QueryErrorCode, reason: `no reading of '${series.slice(0, 80)}' yet`, param: 'series' } };
          const value = typeof l.value === 'number' && !Number.isFinite(l.value) ? null : l.value;
          return { status: 200, body: l.unit === undefined ? { series, ts: l.ts, value } : { series, ts: l.ts, value, unit: l.unit } };
        }
        case '/api/alerts': {
          checkKnown(params, ['after', 'limit']);
          const open = (this.deps.openAlerts?.() ?? []).map(toPayload);
          const afterRaw = params.get('after');
          if (afterRaw === null) return { status: 200, body: { open } };
          const after = Number(afterRaw);
          if (!/^\d{1,15}$/.test(afterRaw)) throw new QueryError('FM_ERR_QUERY_NOT_A_NUMBER', 'after', `'${afterRaw.slice(0, 40)}' is not an alert seq`);
          const limitRaw = params.get('limit') ?? '100';
          const limit = Number(limitRaw);
          if (!/^\d{1,6}$/.test(limitRaw) || limit < 1 || limit > this.limits.maxLimit) {
            throw new QueryError('FM_ERR_QUERY_BAD_LIMIT', 'limit', `${limitRaw.slice(0, 40)} is not in 1..${this.limits.maxLimit}`);
          }
          const events = this.deps.alertEvents?.(after, limit + 1) ?? [];
          const more = events.length > limit;
          if (more) events.length = limit;
          return { status: 200, body: { open, events: events.map(toPayload), next: more ? events[events.length - 1]!.seq : null } };
        }
        default:
          return undefined;
      }
    } catch (err) {
      if (err instanceof QueryError) return { status: 400, body: { error: err.code, reason: err.message, param: err.param } };
      throw err;
    }
  }
}

function toPayload(e: AlertEvent) {
  return { seq: e.seq, alertId: e.alertId, type: e.type, rule: e.ruleId, series: e.series, condition: e.condition, severity: e.severity, value: e.value, ts: e.ts, reason: e.reason };
}
