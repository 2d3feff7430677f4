/**
 * `npm run bundle [-- --out FILE] [--ref COMMIT]`: builds dist/fieldmesh-bundle-<version>.tgz.
 * A dev tool, run from the repository root with tsx.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle } from './build.js';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? undefined : args[i + 1];
};
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
// The bundled commit's version names the file (build.ts takes the manifest from it too), not the working tree's.
const ref = flag('ref') ?? 'HEAD';
let version = '';
try {
  version = (JSON.parse(execFileSync('git', ['-C', repoRoot, 'show', `${ref}:package.json`], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'pipe'] })) as { version: string }).version;
} catch (err) {
  process.stderr.write(`bundle: cannot read package.json of ${ref}: ${(err as Error).message.split('\n')[0]}\n`);
  process.exit(1);
}
const outFile = resolve(flag('out') ?? join(repoRoot, 'dist', `fieldmesh-bundle-${version}.tgz`));
try {
  const r = await buildBundle({ repoRoot, outFile, ref, log: (l) => process.stderr.write(`bundle: ${l}\n`) });
  process.stdout.write(
    `${r.outFile}\n  ${(r.bytes / 2 ** 20).toFixed(1)} MiB, sha256 ${r.sha256}\n  commit ${r.manifest.commit}, native modules for ${r.manifest.machine} / Node ABI ${r.manifest.nodeAbi}\n  built in ${r.seconds.toFixed(1)} s\n`,
  );
} catch (err) {
  process.stderr.write(`bundle: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
