/**
 * The next config revision and rollback order, from what the cloud knows (GET /api/fleet).
 * Both must grow: a gateway refuses a revision not above the one it runs (`old-revision`) and a
 * rollback order it has used (`replayed-order`). The whole answer is searched, wherever the
 * numbers appear (per gateway running/desired/update, stored configs, rollouts), so a number
 * any gateway has seen counts.
 */

/** Deep enough for gateway → desired → rollback envelope → body; bounds work on a hostile answer. */
const MAX_DEPTH = 9;

function walk(v: unknown, depth: number, visit: (o: Record<string, unknown>) => void): void {
  if (depth > MAX_DEPTH || v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (const x of v) walk(x, depth + 1, visit);
    return;
  }
  const o = v as Record<string, unknown>;
  visit(o);
  for (const x of Object.values(o)) walk(x, depth + 1, visit);
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);

/** Highest config revision in the answer: stored configs, `configRevision` fields, config bodies and updates. */
export function highestConfigRevision(fleet: unknown): number {
  let max = 0;
  const configs = (fleet as { configs?: unknown } | null)?.configs;
  if (Array.isArray(configs)) for (const c of configs) max = Math.max(max, num((c as { revision?: unknown })?.revision) ?? 0);
  walk(fleet, 0, (o) => {
    for (const n of [num(o.configRevision), o.kind === 'config' ? (num(o.revision) ?? num(o.target)) : undefined]) if (n !== undefined && n > max) max = n;
  });
  return max;
}

/**
 * Highest rollback order in the answers given (GET /api/fleet, and GET /api/fleet/history for
 * orders whose desired entry has since been replaced): rollback bodies and `rollbackOrder` fields.
 */
export function highestRollbackOrder(...answers: unknown[]): number {
  let max = 0;
  walk(answers, 0, (o) => {
    for (const n of [num(o.rollbackOrder), o.kind === 'rollback' ? num(o.order) : undefined]) if (n !== undefined && n > max) max = n;
  });
  return max;
}
