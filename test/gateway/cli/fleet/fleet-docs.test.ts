import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLEET_FLAGS, type FleetSubcommand } from '#gateway/cli/fleet/fleet-flags';

/**
 * The fleet documentation against the CLI itself: every `fleet <subcommand> …` that README.md and
 * docs/FLEET.md show names a real subcommand and only flags it takes, and docs/FLEET.md shows
 * every subcommand with each of its own flags (the connection and target flags are explained
 * once for all).
 */
const ROOT = join(import.meta.dirname, '..', '..', '..', '..');
const doc = (f: string) => readFileSync(join(ROOT, f), 'utf8');
const SHARED = new Set(['url', 'token', 'json', 'gateway', 'group', 'all']);
const isSub = (w: string | undefined): w is FleetSubcommand => w !== undefined && Object.hasOwn(FLEET_FLAGS, w);

/** The code a doc shows: fenced blocks line by line (comments cut), inline spans joined onto one line. */
function codeIn(text: string): string[] {
  const code: string[] = [];
  const prose = text.replace(/```[^\n]*\n([\s\S]*?)```/g, (_, block: string) => {
    code.push(...block.split('\n').map((l) => l.replace(/\s#.*$/, '')));
    return '';
  });
  for (const m of prose.matchAll(/`([^`]+)`/g)) code.push(m[1]!.replace(/\s+/g, ' '));
  return code;
}

/** Each command a doc shows: its subcommand and the flags on its line (`a | b` alternatives split). */
function commandsIn(text: string): Array<{ sub: string; flags: string[]; line: string }> {
  const out: Array<{ sub: string; flags: string[]; line: string }> = [];
  for (const line of codeIn(text)) {
    const m = /(?:^|\s)fleet ([a-z][a-z-]*)(.*)$/.exec(line);
    if (!m) continue;
    let sub = m[1]!;
    for (const piece of `${sub}${m[2]}`.split(/\s\|\s/)) {
      const first = piece.trim().split(/\s+/)[0];
      if (isSub(first)) sub = first;
      out.push({ sub, flags: [...piece.matchAll(/--([a-z][a-z-]*)/g)].map((f) => f[1]!), line: line.trim() });
    }
  }
  return out;
}

describe('fleet docs match the fleet CLI', () => {
  it('finds commands in fenced blocks, in inline code over a line break and in alternatives', () => {
    const found = commandsIn('Run `npx fieldmesh fleet set-config --file a.yaml\n  --key k --all`, then:\n```sh\nnpx fieldmesh fleet pause 3 | resume 3 | history --gateway gw-a   # --not-a-flag\n```\nthe fleet operations guide');
    expect(found.map((c) => `${c.sub} ${c.flags.join(',')}`)).toEqual(['pause ', 'resume ', 'history gateway', 'set-config file,key,all']);
  });

  it('every command shown names a real subcommand and only its flags', () => {
    const problems: string[] = [];
    for (const f of ['README.md', 'docs/FLEET.md']) {
      const shown = commandsIn(doc(f));
      expect(shown.length, f).toBeGreaterThan(5);
      for (const c of shown) {
        if (!isSub(c.sub)) {
          problems.push(`${f}: "${c.line}": no subcommand ${c.sub}`);
          continue;
        }
        for (const flag of c.flags) if (!Object.hasOwn(FLEET_FLAGS[c.sub], flag)) problems.push(`${f}: "${c.line}": ${c.sub} takes no --${flag}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('docs/FLEET.md shows every subcommand with each of its own flags', () => {
    const shown = commandsIn(doc('docs/FLEET.md'));
    const missing: string[] = [];
    for (const [sub, flags] of Object.entries(FLEET_FLAGS)) {
      const lines = shown.filter((c) => c.sub === sub);
      if (lines.length === 0) missing.push(`fleet ${sub}`);
      for (const flag of Object.keys(flags)) if (!SHARED.has(flag) && !lines.some((c) => c.flags.includes(flag))) missing.push(`fleet ${sub} --${flag}`);
    }
    expect(missing).toEqual([]);
  });
});
