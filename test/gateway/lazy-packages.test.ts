/**
 * The lazily loaded CommonJS packages under both loaders: Node's (named exports beside
 * `default`) and the bundle's esbuild ESM (only `default`, module.exports as it is).
 */
import { describe, expect, it } from 'vitest';
import { loadBonjour, namedExports } from '#gateway/lazy-packages';

describe('lazy packages', () => {
  it('takes the named exports from a default-only namespace, whether module.exports is an object or a function', () => {
    const connect = () => 'connected';
    expect((namedExports({ default: { connect } }) as unknown as { connect: unknown }).connect).toBe(connect);
    // bonjour-service: module.exports is the Bonjour class, with .Bonjour on it.
    class Bonjour {}
    const fn = Object.assign(function bonjour() {}, { Bonjour });
    expect((namedExports({ default: fn }) as unknown as { Bonjour: unknown }).Bonjour).toBe(Bonjour);
    // Node's own loader already offers them: the namespace is kept.
    const ns = { connect, default: { connect } };
    expect(namedExports(ns)).toBe(ns);
  });

  it('loads a Bonjour that can be constructed', async () => {
    const { Bonjour } = await loadBonjour();
    expect(typeof Bonjour).toBe('function');
  });
});
