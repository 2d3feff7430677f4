import { readFileSync, renameSync, writeFileSync } from 'node:fs';

/** The switch journal as the tests write and read it (FLEET-SPEC §5: key=value lines). */
export type Journal = Record<string, string>;

export function readJournal(path: string): Journal | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const j: Journal = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) j[line.slice(0, i)] = line.slice(i + 1);
  }
  return j;
}

/** Written as the agent does: tmp then rename, `reason` last. */
export function writeJournal(path: string, j: Journal): void {
  const keys = Object.keys(j).filter((k) => k !== 'reason');
  const lines = keys.map((k) => `${k}=${j[k]}`);
  if (j.reason !== undefined) lines.push(`reason=${j.reason}`);
  writeFileSync(`${path}.tmp`, lines.join('\n') + '\n');
  renameSync(`${path}.tmp`, path);
}

export function switchJournal(target: string, previous: string, more: Partial<Journal> = {}): Journal {
  return { kind: 'release', target, previous, step: 'trial', attempts: '0', maxAttempts: '2', deadlineSec: '120', uplinkWasUp: '0', serial: '1', ...more };
}
