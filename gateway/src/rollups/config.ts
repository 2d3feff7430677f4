import { RollupError } from './errors.js';

/** The rollup tiers. Bucket `b` of a tier covers reading times [b, b + widthMs), b = k·widthMs. */
export const TIERS = {
  minute: { widthMs: 60_000, table: 'rollup_1m' },
  hour: { widthMs: 3_600_000, table: 'rollup_1h' },
} as const;
export type TierName = keyof typeof TIERS;
export const TIER_NAMES: readonly TierName[] = ['minute', 'hour'];

export interface RollupsConfig {
  /** Per tier: how long buckets are kept, ms of bucket age against wall time. Defaults: minute 14 days
   * (20,160 rows per series), hour 400 days (a year plus a month, for year-on-year views). */
  retentionMs: Record<TierName, number>;
  /** How often in-memory buckets are written, ms. Default 5000. 0 = only when `flush()` is called
   * or `maxPending` is reached. Each flush rewrites every open bucket (two per live series), so
   * shorter costs more writes; queries flush first, so they never see stale rollups. A crash loses
   * at most this much of the rollups (the raw readings are safe in the log). */
  flushIntervalMs: number;
  /** Buckets held in memory before an early flush. Default 20,000 (about 2 MB). */
  maxPending: number;
  /** How often old buckets are deleted, ms. Default 600,000 (10 min). */
  retentionCheckMs: number;
  /** Most distinct series rolled up; new ones beyond are counted and skipped. Default 100,000. */
  maxSeries: number;
}

export const ROLLUP_DEFAULTS: Readonly<RollupsConfig> = Object.freeze({
  retentionMs: Object.freeze({ minute: 14 * 86_400_000, hour: 400 * 86_400_000 }),
  flushIntervalMs: 5000,
  maxPending: 20_000,
  retentionCheckMs: 600_000,
  maxSeries: 100_000,
});

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function duration(raw: unknown, key: string, allowZero = false): number {
  let ms = NaN;
  if (typeof raw === 'number') ms = raw;
  else if (typeof raw === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(raw);
    if (m) ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  if (!Number.isFinite(ms) || ms < 0 || (!allowZero && ms === 0)) {
    throw new RollupError('FM_ERR_ROLLUP_BAD_DURATION', key, `${JSON.stringify(raw)} is not a ${allowZero ? '' : 'positive '}duration`);
  }
  return Math.round(ms);
}

function count(raw: unknown, key: string, max: number): number {
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > max) {
    throw new RollupError('FM_ERR_ROLLUP_BAD_NUMBER', key, `${JSON.stringify(raw)} is not a whole number in 1..${max}`);
  }
  return raw;
}

function obj(raw: unknown, key: string, keys: readonly string[]): Record<string, unknown> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new RollupError('FM_ERR_ROLLUP_NOT_AN_OBJECT', key, 'expected a map');
  }
  for (const k of Object.keys(raw)) {
    if (!keys.includes(k)) throw new RollupError('FM_ERR_ROLLUP_UNKNOWN_KEY', `${key}.${k}`, `unknown key (accepted: ${keys.join(', ')})`);
  }
  return raw as Record<string, unknown>;
}

/** The typed form (what an earlier validation returned, e.g. from the gateway config). */
function checkValidated(c: RollupsConfig, path: string): Readonly<RollupsConfig> {
  const positive = (v: unknown, key: string, allowZero = false) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
      throw new RollupError('FM_ERR_ROLLUP_BAD_NUMBER', `${path}.${key}`, `${JSON.stringify(v)} is not a positive number`);
    }
    return v;
  };
  return Object.freeze({
    retentionMs: Object.freeze({ minute: positive(c.retentionMs?.minute, 'minute.retention'), hour: positive(c.retentionMs?.hour, 'hour.retention') }),
    flushIntervalMs: positive(c.flushIntervalMs, 'flushInterval', true),
    maxPending: positive(c.maxPending, 'maxPending'),
    retentionCheckMs: positive(c.retentionCheckMs, 'retentionCheck'),
    maxSeries: positive(c.maxSeries, 'maxSeries'),
  });
}

/**
 * Validates a `rollups:` config section (or returns an already validated RollupsConfig, checked):
 * `{ minute: { retention: 14d }, hour: { retention: 400d }, flushInterval: 5s, maxPending: 20000,
 *    retentionCheck: 10m, maxSeries: 100000 }`, every key optional. Returns a frozen config.
 */
export function validateRollupsConfig(raw: unknown, path = 'rollups'): Readonly<RollupsConfig> {
  if (raw === undefined || raw === null) return ROLLUP_DEFAULTS;
  if (typeof raw === 'object' && 'retentionMs' in raw) return checkValidated(raw as RollupsConfig, path);
  const o = obj(raw, path, ['minute', 'hour', 'flushInterval', 'maxPending', 'retentionCheck', 'maxSeries']);
  const retentionMs = { ...ROLLUP_DEFAULTS.retentionMs };
  for (const tier of TIER_NAMES) {
    if (o[tier] === undefined) continue;
    const t = obj(o[tier], `${path}.${tier}`, ['retention']);
    if (t.retention !== undefined) retentionMs[tier] = duration(t.retention, `${path}.${tier}.retention`);
  }
  return Object.freeze({
    retentionMs: Object.freeze(retentionMs),
    flushIntervalMs: o.flushInterval === undefined ? ROLLUP_DEFAULTS.flushIntervalMs : duration(o.flushInterval, `${path}.flushInterval`, true),
    maxPending: o.maxPending === undefined ? ROLLUP_DEFAULTS.maxPending : count(o.maxPending, `${path}.maxPending`, 10_000_000),
    retentionCheckMs: o.retentionCheck === undefined ? ROLLUP_DEFAULTS.retentionCheckMs : duration(o.retentionCheck, `${path}.retentionCheck`),
    maxSeries: o.maxSeries === undefined ? ROLLUP_DEFAULTS.maxSeries : count(o.maxSeries, `${path}.maxSeries`, 10_000_000),
  });
}
