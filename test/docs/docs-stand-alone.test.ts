import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The repository's docs stand alone: every doc is listed in the README's doc table and in
 * docs/ARCHITECTURE.md's index, every listed doc exists, and no doc, comment or test points
 * outside the repository or speaks of the project's work history.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const SKIP = new Set(['node_modules', '.git', 'data', 'cloud-data', 'dist', 'build']);

function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) files(p, out);
    else out.push(relative(ROOT, p));
  }
  return out;
}

const all = files(ROOT);
const docs = all.filter((f) => f.endsWith('.md'));
const text = (f: string) => readFileSync(join(ROOT, f), 'utf8');
/** Paths in backticks in the first column of a markdown table. */
const listedIn = (f: string) => new Set([...text(f).matchAll(/^\| `([^`]+\.md)` \|/gm)].map((m) => m[1]!));

describe('docs that live in the repository', () => {
  it('the README doc table lists every doc, and each listed doc exists', () => {
    const listed = listedIn('README.md');
    const missing = docs.filter((d) => d !== 'README.md' && !listed.has(d));
    expect(missing, 'add these to the "Documentation" table in README.md').toEqual([]);
    expect([...listed].filter((d) => !existsSync(join(ROOT, d))), 'listed in README.md but absent').toEqual([]);
  });

  it('docs/ARCHITECTURE.md indexes every doc, and each indexed doc exists', () => {
    const listed = listedIn('docs/ARCHITECTURE.md');
    expect(docs.filter((d) => !listed.has(d)), 'add these to the index in docs/ARCHITECTURE.md').toEqual([]);
    expect([...listed].filter((d) => !existsSync(join(ROOT, d))), 'indexed but absent').toEqual([]);
  });

  it('no doc, source or test points outside the repository or speaks of work history', () => {
    // Built from pieces so this file does not match itself.
    const outside = new RegExp(['DESIGN', 'STYLE', 'ANCHORS'].map((n) => `\\b${n}\\.md`).join('|') + '|\\.\\./shared/');
    const history = new RegExp(['\\bissue[ -]\\d', '\\bengineers?\\b', '\\bhabit\\b', '\\bthis session\\b', '\\bplanning round'].join('|'), 'i');
    const checked = all.filter((f) => /\.(md|ts|js|mjs|c|h|ya?ml|sh|service)$/.test(f));
    const hits: string[] = [];
    for (const f of checked) {
      text(f)
        .split('\n')
        .forEach((line, i) => {
          if (outside.test(line) || history.test(line)) hits.push(`${f}:${i + 1}: ${line.trim().slice(0, 120)}`);
        });
    }
    expect(hits).toEqual([]);
  });
});
