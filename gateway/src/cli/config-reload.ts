/**
 * What a SIGHUP may change in a running program. Its config file is read again and compared,
 * key by key, with the config in force: keys in `live` are applied by the caller, every other
 * changed key is named as needing a restart (so an edit is never silently ignored). Values are
 * never printed: a key may hold a password.
 */
export interface ConfigReload {
  /** Changed keys that can be applied now (their top-level section names, e.g. `rules`). */
  apply: string[];
  /** Changed key paths that take effect only after a restart, e.g. `broker.port`. */
  restart: string[];
}

/** Dotted paths of the leaves that differ between `a` and `b` (a list counts as one leaf). */
export function changedKeys(a: unknown, b: unknown, path = ''): string[] {
  const mapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (mapping(a) && mapping(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => changedKeys(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path || '(whole file)'];
}

/** Sorts the changes between the config in force and the file's new content. */
export function planReload(inForce: unknown, next: unknown, live: readonly string[]): ConfigReload {
  const changed = changedKeys(inForce, next);
  const under = (p: string, l: string) => p === l || p.startsWith(`${l}.`) || p.startsWith(`${l}[`);
  return { apply: live.filter((l) => changed.some((p) => under(p, l))), restart: changed.filter((p) => !live.some((l) => under(p, l))) };
}
