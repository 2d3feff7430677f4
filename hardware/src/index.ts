// The package entry (`@fieldmesh/hardware`): board profiles and serial sensor profiles, what the
// gateway daemon uses at run time. The image tooling has its own entries (package.json `exports`)
// so the daemon never loads it.
export * from './boards/index.js';
export * from './sensors/index.js';
