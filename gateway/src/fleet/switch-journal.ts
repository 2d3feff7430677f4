import { readFileSync } from 'node:fs';
import { writeFileDurably } from '@fieldmesh/device-sdk/durable-file';

/**
 * The switch journal (`<dataDir>/fleet/switch.state`), shared with the sh launcher: one
 * `key=value` per line, no quoting, values of `[A-Za-z0-9._:+-]*` except `reason` (free text on
 * one line, written last). Always replaced whole (device-sdk/src/durable-file.ts), so a reader sees the old
 * journal or the new one. The launcher counts `attempts` and rolls back; the agent writes the
 * switch and the confirmation.
 */
export type JournalStep = 'switch' | 'trial' | 'confirmed' | 'rolled-back';

export interface SwitchJournal {
  kind: 'release' | 'config';
  /** A version, or a config revision number. */
  target: string;
  /** What to go back to: a version, a revision, or `base` (no overlay). */
  previous: string;
  step: JournalStep;
  attempts: number;
  maxAttempts: number;
  deadlineSec: number;
  /** Confirmation needs the uplink connected (it was when the switch was made). */
  uplinkWasUp: boolean;
  serial: number;
  reason?: string;
}

const VALUE = /^[A-Za-z0-9._:+-]*$/;
const STEPS: readonly JournalStep[] = ['switch', 'trial', 'confirmed', 'rolled-back'];
/** A journal is a few hundred bytes; anything larger was not written by us or the launcher. */
const MAX_JOURNAL_BYTES = 4096;

export function encodeJournal(j: SwitchJournal): string {
  const fields: Array<[string, string]> = [
    ['kind', j.kind],
    ['target', j.target],
    ['previous', j.previous],
    ['step', j.step],
    ['attempts', String(j.attempts)],
    ['maxAttempts', String(j.maxAttempts)],
    ['deadlineSec', String(j.deadlineSec)],
    ['uplinkWasUp', j.uplinkWasUp ? '1' : '0'],
    ['serial', String(j.serial)],
  ];
  for (const [k, v] of fields) if (!VALUE.test(v)) throw new RangeError(`journal ${k}=${JSON.stringify(v)} has characters the launcher cannot read`);
  const lines = fields.map(([k, v]) => `${k}=${v}`);
  if (j.reason !== undefined) lines.push(`reason=${oneLine(j.reason)}`);
  return lines.join('\n') + '\n';
}

/** A parsed journal, or why it is not one (a torn or foreign file is reported, never trusted). */
export function parseJournal(text: string): { ok: true; journal: SwitchJournal } | { ok: false; why: string } {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return { ok: false, why: `line ${JSON.stringify(line.slice(0, 40))} is not key=value` };
    kv.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const get = (k: string) => kv.get(k) ?? '';
  const kind = get('kind');
  const step = get('step') as JournalStep;
  if (kind !== 'release' && kind !== 'config') return { ok: false, why: `kind=${get('kind')}` };
  if (!STEPS.includes(step)) return { ok: false, why: `step=${get('step')}` };
  const count = (k: string) => (/^\d{1,9}$/.test(get(k)) ? Number(get(k)) : NaN);
  const nums = { attempts: count('attempts'), maxAttempts: count('maxAttempts'), deadlineSec: count('deadlineSec'), serial: /^\d{1,15}$/.test(get('serial')) ? Number(get('serial')) : NaN };
  for (const [k, v] of Object.entries(nums)) if (Number.isNaN(v)) return { ok: false, why: `${k}=${get(k)}` };
  for (const k of ['target', 'previous']) if (!get(k) || !VALUE.test(get(k))) return { ok: false, why: `${k}=${get(k)}` };
  const journal: SwitchJournal = { kind, target: get('target'), previous: get('previous'), step, ...nums, uplinkWasUp: get('uplinkWasUp') === '1' };
  if (kv.has('reason')) journal.reason = get('reason');
  return { ok: true, journal };
}

/** The journal at `file`: null when there is none, `{corrupt}` when it cannot be read as one. */
export function readJournal(file: string): SwitchJournal | null | { corrupt: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { corrupt: (err as Error).message };
  }
  if (text.length > MAX_JOURNAL_BYTES) return { corrupt: `${text.length} bytes` };
  const p = parseJournal(text);
  return p.ok ? p.journal : { corrupt: p.why };
}

export function writeJournal(file: string, j: SwitchJournal): void {
  writeFileDurably(file, encodeJournal(j));
}

/** A journal's target as the reported state names it: a config revision is a number there. */
export function reportedTarget(j: Pick<SwitchJournal, 'kind' | 'target'>): string | number {
  return j.kind === 'config' ? Number(j.target) : j.target;
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 500);
}
