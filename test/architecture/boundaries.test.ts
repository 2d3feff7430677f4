/**
 * The package boundaries of docs/ARCHITECTURE.md ("Packages and dependency rules"), checked by
 * reading every import of every package's code: which package may import which, that each
 * `exports` map names what it offers (no wildcards, entries that exist), that imports of another
 * package go through those entries, and that every imported package is declared.
 */
import { existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsOf, manifest, packageName, PACKAGES, repoRoot, resolveRelative, sourceFiles, type PackageDir } from './import-graph.js';

/** Which workspace packages each package may import (besides itself). */
const MAY_IMPORT: Record<PackageDir, readonly string[]> = {
  'device-sdk': [],
  protocol: ['@fieldmesh/device-sdk'],
  hardware: ['@fieldmesh/device-sdk'],
  'cloud-bridge': ['@fieldmesh/protocol', '@fieldmesh/device-sdk'],
  // cloud-bridge too, but only from the CLI (composition-root.test.ts).
  gateway: ['@fieldmesh/device-sdk', '@fieldmesh/protocol', '@fieldmesh/hardware', '@fieldmesh/cloud-bridge'],
};

const nameOf = new Map(PACKAGES.map((p) => [manifest(p).name, p] as const));
const edges = (pkg: PackageDir) => sourceFiles(pkg).flatMap(importsOf);

describe.each(PACKAGES)('package %s', (pkg) => {
  const m = manifest(pkg);

  it('has code to scan', () => {
    expect(sourceFiles(pkg).length).toBeGreaterThan(3);
  });

  it('names what it offers in its exports map: no wildcards, and every entry is a file', () => {
    const exp = m.exports ?? {};
    expect(Object.keys(exp)).toContain('.');
    for (const [key, target] of Object.entries(exp)) {
      expect(key, `${pkg} exports ${key}`).not.toContain('*');
      expect(typeof target, `${pkg} exports ${key}: one file, not conditions`).toBe('string');
      expect(existsSync(join(repoRoot, pkg, target as string)), `${pkg} exports ${key} → ${String(target)}`).toBe(true);
    }
  });

  it('imports only the workspace packages it may, and only through their exports', () => {
    const bad: string[] = [];
    for (const e of edges(pkg)) {
      const name = packageName(e.specifier);
      if (name === null || !name.startsWith('@fieldmesh/')) continue;
      const target = nameOf.get(name);
      if (target === undefined) bad.push(`${e.from}: ${e.specifier} is no workspace package`);
      else if (target !== pkg && !MAY_IMPORT[pkg].includes(name)) bad.push(`${e.from}: ${e.specifier} (${pkg} may import ${MAY_IMPORT[pkg].join(', ') || 'no other package'})`);
      else {
        const sub = '.' + e.specifier.slice(name.length);
        if (!Object.hasOwn(manifest(target).exports ?? {}, sub)) bad.push(`${e.from}: ${e.specifier} is not in ${name}'s exports`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('reaches no file outside itself by a relative path, and uses no test-only # import', () => {
    const bad: string[] = [];
    for (const e of edges(pkg)) {
      if (e.specifier.startsWith('#')) bad.push(`${e.from}: ${e.specifier} (the # imports are the test tree's, package.json "imports")`);
      if (e.specifier.startsWith('.') && !resolveRelative(e.from, e.specifier).startsWith(`${pkg}/`)) bad.push(`${e.from}: ${e.specifier} leaves ${pkg}/`);
    }
    expect(bad).toEqual([]);
  });

  it('declares every package it imports', () => {
    const declared = new Set([...Object.keys(m.dependencies ?? {}), ...Object.keys(m.optionalDependencies ?? {}), ...Object.keys(m.peerDependencies ?? {})]);
    const builtin = new Set(builtinModules);
    const missing = new Set<string>();
    for (const e of edges(pkg)) {
      const name = packageName(e.specifier);
      if (name === null || builtin.has(name) || name === m.name) continue;
      // Type-only imports are erased: @types packages and the like are the repository's dev tooling.
      if (e.typeOnly && !name.startsWith('@fieldmesh/')) continue;
      if (!declared.has(name)) missing.add(`${name} (${e.from})`);
    }
    expect([...missing]).toEqual([]);
  });
});

describe('dependency direction', () => {
  it('device-sdk, protocol and hardware never import the gateway or the cloud bridge', () => {
    const bad = (['device-sdk', 'protocol', 'hardware'] as const).flatMap((p) =>
      edges(p).filter((e) => /^@fieldmesh\/(gateway|cloud-bridge)(\/|$)/.test(e.specifier)).map((e) => `${e.from}: ${e.specifier}`),
    );
    expect(bad).toEqual([]);
  });

  it('cloud-bridge declares exactly the workspace packages it imports: protocol and device-sdk', () => {
    const deps = Object.keys(manifest('cloud-bridge').dependencies ?? {}).filter((d) => d.startsWith('@fieldmesh/'));
    expect(deps.sort()).toEqual(['@fieldmesh/device-sdk', '@fieldmesh/protocol']);
  });

  it('the gateway does not depend on the cloud bridge: an optional peer, for its CLI only', () => {
    const m = manifest('gateway');
    expect(Object.keys(m.dependencies ?? {})).not.toContain('@fieldmesh/cloud-bridge');
    expect(m.peerDependencies?.['@fieldmesh/cloud-bridge']).toBeDefined();
    expect(m.peerDependenciesMeta?.['@fieldmesh/cloud-bridge']?.optional).toBe(true);
  });
});
