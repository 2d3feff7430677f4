import { RuleError } from './errors.js';
import { compilePattern } from '../series/pattern.js';
import type { RuleSpec, Severity } from './spec.js';

/**
 * Strict validation of the `rules:` config section: unknown keys, wrong types and impossible
 * combinations are refused with an error naming the key path (`rules[3].hysteresis`) and the fix.
 * The result is deeply frozen. Used at start-up and on every reload (a bad reload keeps the old
 * rules running; see RulesEngine.reload).
 */

const ID = /^[A-Za-z0-9_.-]{1,64}$/;
const KINDS = ['threshold', 'rate', 'staleness', 'deadband'] as const;
const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];
/** Longer than a month of silence or a window is surely a unit mistake (ms vs s). */
const MAX_DURATION_MS = 31 * 24 * 3600_000;

const KEYS: Record<(typeof KINDS)[number], readonly string[]> = {
  threshold: ['id', 'kind', 'series', 'severity', 'high', 'low', 'hysteresis'],
  rate: ['id', 'kind', 'series', 'severity', 'maxRise', 'maxFall', 'per', 'window', 'hysteresis'],
  staleness: ['id', 'kind', 'series', 'severity', 'after', 'scope'],
  deadband: ['id', 'kind', 'series', 'band', 'maxInterval'],
};

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`, `500ms`, `5m`, `2h`, `1d`, or a number of milliseconds. */
export function parseDuration(raw: unknown, key: string): number {
  let ms: number;
  if (typeof raw === 'number') ms = raw;
  else if (typeof raw === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(raw);
    if (!m) throw new RuleError('FM_ERR_RULE_BAD_DURATION', key, `'${raw}' is not a duration`);
    ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  } else throw new RuleError('FM_ERR_RULE_BAD_DURATION', key, `expected a duration, got ${typeof raw}`);
  if (!Number.isFinite(ms) || ms <= 0 || ms > MAX_DURATION_MS) {
    throw new RuleError('FM_ERR_RULE_BAD_DURATION', key, `${String(raw)} must be > 0 and at most 31 days`);
  }
  return Math.round(ms);
}

function num(o: Record<string, unknown>, k: string, path: string, min = -Infinity): number | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    const range = min === -Infinity ? 'a finite number' : `a finite number ≥ ${min}`;
    throw new RuleError('FM_ERR_RULE_BAD_NUMBER', `${path}.${k}`, `${JSON.stringify(v)} is not ${range}`);
  }
  return v;
}

function oneOf<T extends string>(o: Record<string, unknown>, k: string, path: string, allowed: readonly T[], dflt: T): T {
  const v = o[k];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new RuleError('FM_ERR_RULE_BAD_VALUE', `${path}.${k}`, `${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
  }
  return v as T;
}

function validateOne(raw: unknown, path: string): RuleSpec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new RuleError('FM_ERR_RULE_NOT_AN_OBJECT', path, `expected a map, got ${Array.isArray(raw) ? 'a list' : typeof raw}`);
  }
  const o = raw as Record<string, unknown>;
  if (o.kind === undefined) {
    throw new RuleError('FM_ERR_RULE_MISSING_KEY', `${path}.kind`, `missing; give a rule kind: ${KINDS.join(', ')}`);
  }
  for (const k of ['id', 'kind', 'series']) {
    if (o[k] === undefined) throw new RuleError('FM_ERR_RULE_MISSING_KEY', `${path}.${k}`, 'missing');
  }
  if (typeof o.id !== 'string' || !ID.test(o.id)) {
    throw new RuleError('FM_ERR_RULE_BAD_ID', `${path}.id`, `${JSON.stringify(o.id)} is not a valid id`);
  }
  const kind = o.kind as (typeof KINDS)[number];
  if (!KINDS.includes(kind)) {
    throw new RuleError('FM_ERR_RULE_BAD_KIND', `${path}.kind`, `${JSON.stringify(o.kind)} is not one of ${KINDS.join(', ')}`);
  }
  for (const k of Object.keys(o)) {
    if (!KEYS[kind].includes(k)) {
      throw new RuleError('FM_ERR_RULE_UNKNOWN_KEY', `${path}.${k}`, `unknown key for a ${kind} rule (accepted: ${KEYS[kind].join(', ')})`);
    }
  }
  const pattern = compilePattern(o.series as string);
  if (typeof pattern === 'string') throw new RuleError('FM_ERR_RULE_BAD_PATTERN', `${path}.series`, pattern);
  const id = o.id;
  const series = o.series as string;
  const severity = (): Severity => oneOf(o, 'severity', path, SEVERITIES, 'warning');
  switch (kind) {
    case 'threshold': {
      const high = num(o, 'high', path);
      const low = num(o, 'low', path);
      const hysteresis = num(o, 'hysteresis', path, 0) ?? 0;
      if (high === undefined && low === undefined) throw new RuleError('FM_ERR_RULE_NO_LIMIT', path, 'neither high nor low given');
      if (high !== undefined && low !== undefined && low + hysteresis >= high - hysteresis) {
        throw new RuleError('FM_ERR_RULE_BAD_NUMBER', `${path}.low`, `low (${low}) + hysteresis must stay below high (${high}) - hysteresis, or the two sides overlap`);
      }
      return { id, kind, series, severity: severity(), high, low, hysteresis };
    }
    case 'rate': {
      const maxRise = num(o, 'maxRise', path, 0);
      const maxFall = num(o, 'maxFall', path, 0);
      if (maxRise === undefined && maxFall === undefined) throw new RuleError('FM_ERR_RULE_NO_LIMIT', path, 'neither maxRise nor maxFall given');
      const hysteresis = num(o, 'hysteresis', path, 0) ?? 0;
      const per = oneOf(o, 'per', path, ['second', 'minute'] as const, 'minute');
      const windowMs = o.window === undefined ? 60_000 : parseDuration(o.window, `${path}.window`);
      return { id, kind, series, severity: severity(), maxRise, maxFall, per, windowMs, hysteresis };
    }
    case 'staleness': {
      if (o.after === undefined) throw new RuleError('FM_ERR_RULE_MISSING_KEY', `${path}.after`, 'missing');
      const afterMs = parseDuration(o.after, `${path}.after`);
      const scope = oneOf(o, 'scope', path, ['series', 'device'] as const, 'series');
      return { id, kind, series, severity: severity(), afterMs, scope };
    }
    case 'deadband': {
      const band = num(o, 'band', path, 0) ?? 0;
      const maxIntervalMs = o.maxInterval === undefined || o.maxInterval === 0 ? 0 : parseDuration(o.maxInterval, `${path}.maxInterval`);
      return { id, kind, series, band, maxIntervalMs };
    }
  }
}

/**
 * Specs this module produced. The config loader validates `rules:` once; the engine is then handed
 * those specs (at start and on reload) and must not read them as raw YAML again (`afterMs` is not
 * a config key). Frozen, so they cannot have been changed since.
 */
const VALIDATED = new WeakSet<object>();

/**
 * Validates the whole `rules:` section; throws a RuleError on the first problem. Accepts raw config
 * or specs returned by an earlier call.
 */
export function validateRules(raw: unknown, path = 'rules'): readonly RuleSpec[] {
  if (raw === undefined || raw === null) return Object.freeze([]);
  if (!Array.isArray(raw)) throw new RuleError('FM_ERR_RULE_NOT_A_LIST', path, `expected a list, got ${typeof raw}`);
  const seen = new Set<string>();
  const out = raw.map((r, i) => {
    const spec = typeof r === 'object' && r !== null && VALIDATED.has(r) ? (r as RuleSpec) : validateOne(r, `${path}[${i}]`);
    if (seen.has(spec.id)) throw new RuleError('FM_ERR_RULE_DUPLICATE_ID', `${path}[${i}].id`, `'${spec.id}' is used twice`);
    seen.add(spec.id);
    // Rebuilt rather than `delete`d: deleting keys drops V8 objects into slow dictionary mode.
    if (VALIDATED.has(spec)) return spec;
    const clean = Object.freeze(Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as RuleSpec);
    VALIDATED.add(clean);
    return clean;
  });
  return Object.freeze(out);
}
