import { LiveError } from './errors.js';

/** Limits on a filter: it comes from a URL anybody with a token can type. */
const MAX_PATTERNS = 32;
const MAX_PATTERN_CHARS = 200;
/** Gateway ids and series names use [A-Za-z0-9_.-] and `/`; a pattern adds `*`. */
const PATTERN = /^[A-Za-z0-9_.*/-]+$/;

/** Which event kinds a subscriber wants. */
export type LiveKind = 'readings' | 'status' | 'alerts';
export const LIVE_KINDS: readonly LiveKind[] = ['readings', 'status', 'alerts'];

/**
 * What a subscriber wants: gateways and series by glob pattern (`*` matches within one `/` level,
 * `**` across levels), and event kinds. An empty list means everything.
 */
export interface LiveFilter {
  gateways: readonly string[];
  series: readonly string[];
  kinds: readonly LiveKind[];
}

export const MATCH_ALL: LiveFilter = { gateways: [], series: [], kinds: LIVE_KINDS };

function toRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else re += c === '.' ? '\\.' : c;
  }
  return new RegExp(`^${re}$`);
}

function parseList(raw: string | null, what: string): string[] {
  if (raw === null || raw === '') return [];
  const list = raw.split(',').filter((s) => s !== '');
  if (list.length > MAX_PATTERNS) throw new LiveError('FM_ERR_LIVE_FILTER', `${what}: ${list.length} patterns, at most ${MAX_PATTERNS}`);
  for (const p of list) {
    if (p.length > MAX_PATTERN_CHARS || !PATTERN.test(p)) throw new LiveError('FM_ERR_LIVE_FILTER', `${what}: bad pattern ${JSON.stringify(p.slice(0, 60))}`);
  }
  return list;
}

/** Reads `gateway=`, `series=` (comma-separated patterns) and `kinds=` from a URL's query. */
export function parseLiveFilter(params: URLSearchParams): LiveFilter {
  const kindsRaw = params.get('kinds');
  let kinds: LiveKind[] = [...LIVE_KINDS];
  if (kindsRaw !== null && kindsRaw !== '') {
    kinds = [];
    for (const k of kindsRaw.split(',')) {
      if (!(LIVE_KINDS as readonly string[]).includes(k)) throw new LiveError('FM_ERR_LIVE_FILTER', `kinds: unknown kind ${JSON.stringify(k.slice(0, 40))}; known: ${LIVE_KINDS.join(', ')}`);
      kinds.push(k as LiveKind);
    }
  }
  return { gateways: parseList(params.get('gateway'), 'gateway'), series: parseList(params.get('series'), 'series'), kinds };
}

/** A compiled filter: matching runs for every reading of every batch, so patterns compile once. */
export class LiveMatcher {
  private readonly gateways: RegExp[];
  private readonly series: RegExp[];
  /** Series verdicts, bounded: a fleet has a few thousand series, a hostile one could have more. */
  private readonly seriesCache = new Map<string, boolean>();

  constructor(readonly filter: LiveFilter) {
    this.gateways = filter.gateways.map(toRegExp);
    this.series = filter.series.map(toRegExp);
  }

  wants(kind: LiveKind): boolean {
    return this.filter.kinds.includes(kind);
  }

  gateway(id: string): boolean {
    return this.gateways.length === 0 || this.gateways.some((r) => r.test(id));
  }

  seriesName(name: string): boolean {
    if (this.series.length === 0) return true;
    let v = this.seriesCache.get(name);
    if (v === undefined) {
      v = this.series.some((r) => r.test(name));
      if (this.seriesCache.size > 10_000) this.seriesCache.clear();
      this.seriesCache.set(name, v);
    }
    return v;
  }
}
