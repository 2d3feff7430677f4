/**
 * The static import graph of the workspace packages, read from the sources (no TypeScript API:
 * the native compiler has none). Enough to check package boundaries and folder cycles: every
 * `import … from`, `export … from`, side-effect `import '…'` and literal `import('…')`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The workspace packages, by folder. */
export const PACKAGES = ['device-sdk', 'protocol', 'hardware', 'cloud-bridge', 'gateway'] as const;
export type PackageDir = (typeof PACKAGES)[number];

export interface ImportEdge {
  /** Repository-relative path of the importing file. */
  from: string;
  specifier: string;
  /** `import type` / `export type`: erased at run time, still a design dependency. */
  typeOnly: boolean;
  /** `import('…')`: loaded when the code runs, not when the module loads. */
  dynamic: boolean;
}

/** Folders of a package that hold code (tests live in test/, not here). */
const CODE_DIRS = ['src', 'bin', 'vectors'];

export function sourceFiles(pkg: PackageDir): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) {
        if (f !== 'node_modules') walk(p);
      } else if (/\.(ts|js|mjs)$/.test(f) && !f.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const d of CODE_DIRS) if (existsSync(join(repoRoot, pkg, d))) walk(join(repoRoot, pkg, d));
  return out;
}

const STATIC = /^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/gm;
const BARE = /^\s*import\s+['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

export function importsOf(file: string): ImportEdge[] {
  const text = readFileSync(file, 'utf8');
  const from = relative(repoRoot, file).split(sep).join('/');
  const edges: ImportEdge[] = [];
  for (const m of text.matchAll(STATIC)) {
    const clause = m[3] ?? '';
    // `import { type A, type B }` is type-only too when every name is.
    const names = /^\{([^}]*)\}$/.exec(clause.trim())?.[1]?.split(',').map((n) => n.trim()).filter(Boolean);
    const allTypeNames = names !== undefined && names.length > 0 && names.every((n) => n.startsWith('type '));
    edges.push({ from, specifier: m[4]!, typeOnly: m[2] !== undefined || allTypeNames, dynamic: false });
  }
  for (const m of text.matchAll(BARE)) edges.push({ from, specifier: m[1]!, typeOnly: false, dynamic: false });
  for (const m of text.matchAll(DYNAMIC)) edges.push({ from, specifier: m[1]!, typeOnly: false, dynamic: true });
  return edges;
}

/** `@fieldmesh/x/y` → `@fieldmesh/x`; `pkg/y` → `pkg`; relative and `node:` → null. */
export function packageName(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('node:') || specifier.startsWith('#')) return null;
  // Not a module name: text inside a generated script (`import('$APP_DIR/…')` in firstrun.ts).
  if (!/^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(\/|$)/i.test(specifier)) return null;
  return specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
}

/** The repository-relative file a relative specifier names (`.js` written for a `.ts` source). */
export function resolveRelative(fromFile: string, specifier: string): string {
  const abs = resolve(repoRoot, dirname(fromFile), specifier);
  for (const candidate of [abs, abs.replace(/\.js$/, '.ts'), `${abs}.ts`, join(abs, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return relative(repoRoot, candidate).split(sep).join('/');
  }
  return relative(repoRoot, abs).split(sep).join('/');
}

export interface Manifest {
  name: string;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

export function manifest(pkg: PackageDir): Manifest {
  return JSON.parse(readFileSync(join(repoRoot, pkg, 'package.json'), 'utf8')) as Manifest;
}

/** Strongly connected components of more than one node (or with a self-loop): the cycles. */
export function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.has(v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}
