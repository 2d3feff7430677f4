import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGS } from '../tools/error-catalogs.js';
import { ERRORS_DOC, renderErrorsDoc } from '../tools/errors-doc.js';

/**
 * docs/ERRORS.md is the catalogs, rendered: regenerated here in memory and compared with the file,
 * and every `FM_ERR_…` code that the source or a doc names is in exactly one catalog.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const PACKAGES = ['device-sdk', 'protocol', 'hardware', 'gateway', 'cloud-bridge'];
const SKIP = new Set(['node_modules', '.git', 'data', 'cloud-data', 'dist', 'build']);

function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) files(p, out);
    else out.push(p);
  }
  return out;
}

const CODE = /FM_ERR_[A-Z0-9_]+/g;
const catalogued = new Map<string, string[]>();
for (const c of ERROR_CATALOGS) {
  for (const code of Object.keys(c.catalog)) catalogued.set(code, [...(catalogued.get(code) ?? []), c.component]);
}

/** Each `FM_ERR_…` string in the files, with where it stands. A trailing `_` is a prefix (`FM_ERR_BATCH_*`). */
function codesIn(paths: string[]): { code: string; at: string }[] {
  const found: { code: string; at: string }[] = [];
  for (const p of paths) {
    readFileSync(p, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const m of line.matchAll(CODE)) found.push({ code: m[0], at: `${relative(ROOT, p)}:${i + 1}` });
      });
  }
  return found;
}

const known = (code: string) => (code.endsWith('_') ? [...catalogued.keys()].some((k) => k.startsWith(code)) : catalogued.has(code));

describe('docs/ERRORS.md and the error catalogs', () => {
  it('docs/ERRORS.md is what the catalogs render (run `npm run docs:errors` after changing a catalog)', () => {
    expect(readFileSync(ERRORS_DOC, 'utf8')).toBe(renderErrorsDoc());
  });

  it('lists every catalogued code with its component, meaning and how to solve', () => {
    const doc = readFileSync(ERRORS_DOC, 'utf8');
    for (const c of ERROR_CATALOGS) {
      expect(doc).toContain(`## ${c.component}\n`);
      for (const [code, entry] of Object.entries(c.catalog)) {
        expect(Object.keys(entry).sort(), code).toEqual(['howToSolve', 'meaning']);
        expect(entry.meaning.trim().length, `${code} meaning`).toBeGreaterThan(10);
        expect(entry.howToSolve.trim().length, `${code} howToSolve`).toBeGreaterThan(5);
        expect(doc, code).toMatch(new RegExp(`^\\| \`${code}\` \\| .+ \\| .+ \\|$`, 'm'));
      }
    }
  });

  it('no code is in two catalogs, and every code is FM_ERR_ and upper case', () => {
    expect([...catalogued].filter(([, where]) => where.length > 1)).toEqual([]);
    for (const code of catalogued.keys()) expect(code).toMatch(/^FM_ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/);
  });

  it('every FM_ERR_ code named in source is in a catalog', () => {
    const source = PACKAGES.flatMap((p) => files(join(ROOT, p))).filter((f) => /\.(ts|js|mjs|c|h|sh)$/.test(f));
    const found = codesIn(source);
    // The scan must see the codes it guards: a broken walk would pass with nothing found.
    expect(new Set(found.map((f) => f.code)).size).toBeGreaterThan(150);
    expect(found.filter((f) => !known(f.code)).map((f) => `${f.at}: ${f.code}`)).toEqual([]);
  });

  it('every FM_ERR_ code named in a doc is in a catalog', () => {
    const docs = [...PACKAGES.flatMap((p) => files(join(ROOT, p))), ...files(join(ROOT, 'docs')), join(ROOT, 'README.md')].filter((f) => f.endsWith('.md'));
    expect(codesIn(docs).filter((f) => !known(f.code)).map((f) => `${f.at}: ${f.code}`)).toEqual([]);
  });
});
