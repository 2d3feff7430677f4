/**
 * `npm run bundle [-- --out FILE] [--ref COMMIT]`: builds dist/fieldmesh-bundle-<version>.tgz.
 * A dev tool, run from the repository root with tsx.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle } from './build.js';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? undefined : args[i + 1];
};
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const version = (await import(join(repoRoot, 'package.json'), { with: { type: 'json' } })).default.version as string;
const outFile = resolve(flag('out') ?? join(repoRoot, 'dist', `fieldmesh-bundle-${version}.tgz`));
try {
  const r = await buildBundle({ repoRoot, outFile, ref: flag('ref'), log: (l) => process.stderr.write(`bundle: ${l}\n`) });
  process.stdout.write(
    `${r.outFile}\n  ${(r.bytes / 2 ** 20).toFixed(1)} MiB, sha256 ${r.sha256}\n  commit ${r.manifest.commit}, native modules for ${r.manifest.machine} / Node ABI ${r.manifest.nodeAbi}\n  built in ${r.seconds.toFixed(1)} s\n`,
  );
} catch (err) {
  process.stderr.write(`bundle: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
