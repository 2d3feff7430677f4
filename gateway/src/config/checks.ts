import { ConfigError } from './errors.js';

/**
 * A tiny strict schema language: each Check turns an untrusted YAML value into a typed one or
 * throws a ConfigError naming the key path. Sections compose them (one file per section).
 */
export type Check<T> = (value: unknown, path: string) => T;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return `${typeof value === 'object' ? 'a mapping' : `${typeof value} ${String(value)}`}`;
}

export function int(min: number, max: number): Check<number> {
  return (v, path) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError('FM_ERR_CONFIG_TYPE', path, `expected an integer, got ${describe(v)}`);
    if (!Number.isInteger(v) || v < min || v > max) throw new ConfigError('FM_ERR_CONFIG_RANGE', path, `expected an integer from ${min} to ${max}, got ${v}`);
    return v;
  };
}

export const bool: Check<boolean> = (v, path) => {
  if (typeof v !== 'boolean') throw new ConfigError('FM_ERR_CONFIG_TYPE', path, `expected true or false, got ${describe(v)}`);
  return v;
};

export function str(opts: { pattern?: RegExp; hint?: string; min?: number; max?: number } = {}): Check<string> {
  const { pattern, hint, min = 1, max = 1024 } = opts;
  return (v, path) => {
    if (typeof v !== 'string') throw new ConfigError('FM_ERR_CONFIG_TYPE', path, `expected a string, got ${describe(v)}`);
    if (v.length < min || v.length > max) throw new ConfigError('FM_ERR_CONFIG_RANGE', path, `expected ${min} to ${max} characters, got ${v.length}`);
    if (pattern && !pattern.test(v)) throw new ConfigError('FM_ERR_CONFIG_RANGE', path, `${describe(v)} is not ${hint ?? `matching ${pattern}`}`);
    return v;
  };
}

export function oneOf<T extends string>(...values: T[]): Check<T> {
  return (v, path) => {
    if (typeof v !== 'string' || !values.includes(v as T)) {
      throw new ConfigError(typeof v === 'string' ? 'FM_ERR_CONFIG_RANGE' : 'FM_ERR_CONFIG_TYPE', path, `expected one of ${values.join(', ')}, got ${describe(v)}`);
    }
    return v as T;
  };
}

export function listOf<T>(item: Check<T>, max: number): Check<T[]> {
  return (v, path) => {
    if (!Array.isArray(v)) throw new ConfigError('FM_ERR_CONFIG_TYPE', path, `expected a list, got ${describe(v)}`);
    if (v.length > max) throw new ConfigError('FM_ERR_CONFIG_RANGE', path, `at most ${max} entries, got ${v.length}`);
    return v.map((x, i) => item(x, `${path}[${i}]`));
  };
}

export function nullable<T>(check: Check<T>): Check<T | null> {
  return (v, path) => (v === null ? null : check(v, path));
}

export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A mapping with known keys: unknown keys are refused (with a "did you mean"), missing keys
 * take `defaults`. `required` keys have no default.
 */
export function section<T extends object>(shape: { [K in keyof T]-?: Check<T[K]> }, defaults: Partial<T>): Check<T> {
  const known = Object.keys(shape);
  return (v, path) => {
    if (v === undefined || v === null) v = {};
    if (!isMapping(v)) throw new ConfigError('FM_ERR_CONFIG_TYPE', path, `expected a mapping (key: value), got ${describe(v)}`);
    for (const key of Object.keys(v)) {
      if (!known.includes(key)) {
        const near = known.find((k) => closeTo(k, key));
        throw new ConfigError(
          'FM_ERR_CONFIG_UNKNOWN_KEY',
          join(path, key),
          `unknown key${near ? `; did you mean "${near}"?` : ''} Known keys${path ? ` in ${path}` : ''}: ${known.join(', ')}`,
        );
      }
    }
    const out: Record<string, unknown> = {};
    for (const key of known) {
      const given = (v as Record<string, unknown>)[key];
      if (given === undefined) {
        if (!(key in defaults)) throw new ConfigError('FM_ERR_CONFIG_TYPE', join(path, key), 'required key is missing');
        out[key] = structuredClone((defaults as Record<string, unknown>)[key]);
      } else {
        out[key] = (shape as Record<string, Check<unknown>>)[key]!(given, join(path, key));
      }
    }
    return out as T;
  };
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Case-insensitive edit distance ≤ 2: enough for typos like `prot` or `maxconnections`. */
function closeTo(a: string, b: string): boolean {
  a = a.toLowerCase();
  b = b.toLowerCase();
  if (a === b) return true;
  if (Math.abs(a.length - b.length) > 2) return false;
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]! <= 2;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
