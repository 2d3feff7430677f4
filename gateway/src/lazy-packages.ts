/**
 * Packages the gateway loads on first use, not with its modules (a gateway without an uplink
 * never loads mqtt.js; one with `mesh.mdns: false` never loads multicast DNS).
 *
 * In the bundle (`gateway/dist`, ESM built by esbuild) a dynamic import of a CommonJS package
 * yields only `default` (its module.exports), where Node's own loader also offers the named
 * exports: `{ connect } = await import('mqtt')` is then undefined. Both shapes are taken here.
 * module.exports may be a function carrying the named exports as properties (bonjour-service
 * exports its Bonjour class so, with `.Bonjour` on it).
 */
export function namedExports<T extends object>(m: T): T {
  const d = (m as { default?: unknown }).default;
  const named = Object.keys(m).filter((k) => k !== 'default' && k !== '__esModule');
  return named.length === 0 && d !== null && (typeof d === 'object' || typeof d === 'function') ? (d as T) : m;
}

export const loadMqtt = async (): Promise<typeof import('mqtt')> => namedExports(await import('mqtt'));

export const loadBonjour = async (): Promise<{ Bonjour: typeof import('bonjour-service').Bonjour }> => namedExports<{ Bonjour: typeof import('bonjour-service').Bonjour }>(await import('bonjour-service'));
