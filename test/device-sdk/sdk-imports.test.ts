/**
 * The SDK installs on a bridge without the gateway's heavy dependencies: no aedes, no
 * better-sqlite3, nothing from gateway, cloud-bridge or hardware. Checked by reading every import.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../device-sdk', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|js)$/.test(f) ? [p] : [];
  });
}

const FORBIDDEN = [/^aedes/, /^better-sqlite3/, /^@fieldmesh\/(gateway|cloud-bridge|hardware|protocol)/];
const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

describe('device-sdk dependencies', () => {
  const sources = [...files(join(root, 'src')), ...files(join(root, 'bin'))];

  it('has sources to scan', () => {
    expect(sources.length).toBeGreaterThan(10);
  });

  it('imports no gateway, cloud-bridge or hardware code, no aedes, no better-sqlite3, and nothing outside device-sdk', () => {
    const bad: string[] = [];
    for (const f of sources) {
      for (const m of readFileSync(f, 'utf8').matchAll(IMPORT)) {
        const spec = m[1] ?? m[2]!;
        if (FORBIDDEN.some((re) => re.test(spec))) bad.push(`${relative(root, f)}: ${spec}`);
        if (spec.startsWith('.') && relative(root, resolve(join(f, '..'), spec)).startsWith('..')) bad.push(`${relative(root, f)}: ${spec} leaves device-sdk`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('declares every package it imports', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]);
    const missing = new Set<string>();
    for (const f of sources) {
      for (const m of readFileSync(f, 'utf8').matchAll(IMPORT)) {
        const spec = m[1] ?? m[2]!;
        if (spec.startsWith('.') || spec.startsWith('node:')) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!declared.has(name)) missing.add(`${name} (${relative(root, f)})`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});
