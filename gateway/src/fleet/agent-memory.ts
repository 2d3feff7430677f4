import { readFileSync } from 'node:fs';
import { MAX_REPORTED_REFUSALS, type ReportedRefusal } from '@fieldmesh/protocol';
import { writeFileDurably } from '@fieldmesh/device-sdk/durable-file';

/**
 * What the agent remembers across restarts (`<dataDir>/fleet/agent.json`): versions and
 * revisions that failed here (never tried again), the highest rollback order used (an older one
 * is a replay), the last desired serial and the newest refusals for the reported state.
 */
export interface AgentMemory {
  failed: string[];
  failedConfig: number[];
  rollbackOrder: number;
  lastSerial: number;
  refused: ReportedRefusal[];
}

/** Failed targets remembered at most; a gateway that failed this many has bigger problems. */
const MAX_FAILED = 200;
const MAX_MEMORY_BYTES = 256 * 1024;

const emptyMemory = (): AgentMemory => ({ failed: [], failedConfig: [], rollbackOrder: 0, lastSerial: 0, refused: [] });

/**
 * Reads agent.json. A missing file is a fresh gateway; an unreadable one starts fresh too (with
 * `problem` set for the log): losing the failed list means one more try of a failed release, which
 * the launcher rolls back again, while refusing to run fleet at all would need a person on site.
 */
export function readMemory(file: string): { memory: AgentMemory; problem: string | null } {
  let raw: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    if (text.length > MAX_MEMORY_BYTES) return { memory: emptyMemory(), problem: `${text.length} bytes` };
    raw = JSON.parse(text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { memory: emptyMemory(), problem: null };
    return { memory: emptyMemory(), problem: (err as Error).message };
  }
  const m = emptyMemory();
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  if (Array.isArray(r.failed)) m.failed = r.failed.filter((v): v is string => typeof v === 'string' && v.length <= 22).slice(-MAX_FAILED);
  if (Array.isArray(r.failedConfig)) m.failedConfig = r.failedConfig.filter((v): v is number => Number.isSafeInteger(v)).slice(-MAX_FAILED);
  if (Number.isSafeInteger(r.rollbackOrder) && (r.rollbackOrder as number) >= 0) m.rollbackOrder = r.rollbackOrder as number;
  if (Number.isSafeInteger(r.lastSerial) && (r.lastSerial as number) >= 0) m.lastSerial = r.lastSerial as number;
  if (Array.isArray(r.refused)) m.refused = (r.refused as ReportedRefusal[]).filter((x) => typeof x === 'object' && x !== null && typeof x.reason === 'string').slice(-MAX_REPORTED_REFUSALS);
  return { memory: m, problem: null };
}

export function writeMemory(file: string, m: AgentMemory): void {
  const bounded: AgentMemory = { ...m, failed: m.failed.slice(-MAX_FAILED), failedConfig: m.failedConfig.slice(-MAX_FAILED), refused: m.refused.slice(-MAX_REPORTED_REFUSALS) };
  writeFileDurably(file, JSON.stringify(bounded) + '\n');
}

type RefusalKey = Pick<ReportedRefusal, 'kind' | 'target' | 'reason'>;
const sameRefusal = (a: RefusalKey, b: RefusalKey) => a.kind === b.kind && a.target === b.target && a.reason === b.reason;

/**
 * The refusals not already kept: the same retained desired state judged again after a reconnect
 * is not a new refusal (nor counted twice).
 */
export function newRefusals<R extends RefusalKey>(m: Readonly<AgentMemory>, list: readonly R[]): R[] {
  return list.filter((r) => !m.refused.some((x) => sameRefusal(x, r)));
}

/** Keeps `list` as the newest refusals (an equal older entry moves to the end), the newest 10 in all. */
export function keepRefusals(m: AgentMemory, list: ReadonlyArray<RefusalKey & { why: string }>, at: string): void {
  for (const r of list) {
    m.refused = m.refused.filter((x) => !sameRefusal(x, r));
    m.refused.push({ kind: r.kind, target: r.target, reason: r.reason, at, why: r.why.slice(0, 400) });
  }
  m.refused = m.refused.slice(-MAX_REPORTED_REFUSALS);
}
