/**
 * The gateway's folders form no import cycle (docs/ARCHITECTURE.md, "Packages and dependency
 * rules"): each folder is a component, and a component may use another only if that one does not
 * use it back, directly or around a loop. Files directly in gateway/src (gateway.ts, the
 * composition of the daemon, and what it alone wires) count each as their own node. Type-only
 * imports count: a cycle of types is still two components that cannot be understood apart.
 */
import { describe, expect, it } from 'vitest';
import { cycles, importsOf, resolveRelative, sourceFiles } from './import-graph.js';

function nodeOf(file: string): string {
  const rest = file.replace(/^gateway\/src\//, '');
  return rest.includes('/') ? `${rest.split('/')[0]}/` : rest;
}

function folderGraph(): { graph: Map<string, Set<string>>; why: Map<string, string[]> } {
  const graph = new Map<string, Set<string>>();
  const why = new Map<string, string[]>();
  for (const file of sourceFiles('gateway')) {
    for (const e of importsOf(file)) {
      if (!e.from.startsWith('gateway/src/') || !e.specifier.startsWith('.')) continue;
      const to = resolveRelative(e.from, e.specifier);
      if (!to.startsWith('gateway/src/')) continue;
      const a = nodeOf(e.from);
      const b = nodeOf(to);
      if (a === b) continue;
      if (!graph.has(a)) graph.set(a, new Set());
      graph.get(a)!.add(b);
      const key = `${a} → ${b}`;
      why.set(key, [...(why.get(key) ?? []), `${e.from} → ${to}`]);
    }
  }
  return { graph, why };
}

describe('gateway folders', () => {
  it('finds the folders and their imports', () => {
    const { graph } = folderGraph();
    expect(graph.get('gateway.ts')?.size ?? 0).toBeGreaterThan(5);
    expect(graph.has('rules/')).toBe(true);
  });

  it('finds a cycle when there is one (the checker itself)', () => {
    const g = new Map([['a/', new Set(['b/'])], ['b/', new Set(['c/'])], ['c/', new Set(['a/'])], ['d/', new Set(['a/'])]]);
    expect(cycles(g)).toEqual([['a/', 'b/', 'c/']]);
  });

  it('have no import cycle', () => {
    const { graph, why } = folderGraph();
    const found = cycles(graph).map((scc) => {
      const inside = [...why.entries()].filter(([k]) => scc.some((a) => k.startsWith(`${a} → `)) && scc.some((b) => k.endsWith(` → ${b}`)));
      return `${scc.join(' ⇄ ')}\n${inside.map(([k, v]) => `  ${k}: ${v.join(', ')}`).join('\n')}`;
    });
    expect(found).toEqual([]);
  });
});
