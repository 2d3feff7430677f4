import { execFile, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { machine, tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { sha256OfFile } from '@fieldmesh/device-sdk/file-digest';

const exec = promisify(execFile);

/**
 * `npm run bundle`: the offline-installable fieldmesh bundle an image carries.
 *
 * - Sources come from a git commit (`git archive`), not the working tree, so a bundle is
 *   reproducible and never picks up half-edited files.
 * - TypeScript is compiled to JavaScript file by file (esbuild transform; the repo is
 *   `isolatedModules`), package exports are pointed at the .js files and the CLI entry loads
 *   JavaScript: no TypeScript loader at run time, so tsx and esbuild's per-platform binary are
 *   not needed on the Pi.
 * - The `gateway` command also runs from `gateway/dist`, an esbuild bundle of the CLI with its
 *   pure-JavaScript dependencies (native addons external): fewer files to read at start.
 * - node_modules holds the production dependency closure (`npm ls --omit=dev --all`), copied from
 *   this checkout's install: no network, no `npm ci` in the repo. Native modules are therefore
 *   built for THIS machine; bundle-manifest.json records machine and Node ABI, and first boot
 *   rebuilds when they differ (README "Native modules on the Pi").
 * - The tarball is deterministic for a commit: sorted names, fixed mtime and owner, gzip -n.
 */
export interface BundleOptions {
  repoRoot: string;
  outFile: string;
  /** Git commit or ref to bundle. Default HEAD. */
  ref?: string;
  log?: (line: string) => void;
}

export interface BundleManifest {
  format: 1;
  name: string;
  version: string;
  commit: string;
  /** `uname -m` of the machine that built the native modules (x86_64, aarch64). */
  machine: string;
  platform: string;
  /** process.versions.modules of the building Node: native modules only load on the same ABI. */
  nodeAbi: string;
  node: string;
  /** Native addons in the bundle, relative paths. */
  native: string[];
  /** Packages whose native addon ships prebuilt for linux-arm64 inside the package itself. */
  prebuiltArm64: string[];
}

export interface BundleResult {
  outFile: string;
  bytes: number;
  sha256: string;
  manifest: BundleManifest;
  seconds: number;
}

/** Run-time only: the TypeScript loader and its platform binaries are not needed once compiled. */
const NOT_AT_RUNTIME = new Set(['tsx', 'esbuild', 'get-tsconfig', 'resolve-pkg-maps']);
const isNotAtRuntime = (rel: string) => {
  const name = rel.split('/node_modules/').at(-1)!;
  return NOT_AT_RUNTIME.has(name) || name.startsWith('@esbuild/');
};

/** Build products that are not needed to load a native module (keep deps/ for rebuilds). */
const PRUNE = [/^better-sqlite3\/build\/Release\/(obj|obj\.target|\.deps|test_extension\.node)/u, /^better-sqlite3\/build\/(Makefile|config\.gypi|.*\.mk)$/u];

async function walk(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function pipeGitArchive(repoRoot: string, ref: string, paths: string[], dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const git = spawn('git', ['-C', repoRoot, 'archive', '--format=tar', ref, '--', ...paths], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tar = spawn('tar', ['-x', '-C', dest], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    git.stderr.on('data', (d: Buffer) => (err += d.toString()));
    tar.stderr.on('data', (d: Buffer) => (err += d.toString()));
    git.stdout.pipe(tar.stdin);
    let done = 0;
    const finish = (code: number | null) => {
      if (code !== 0) reject(new Error(`git archive | tar failed: ${err.trim()}`));
      else if (++done === 2) resolve();
    };
    git.on('close', finish);
    tar.on('close', finish);
  });
}


export async function buildBundle(opts: BundleOptions): Promise<BundleResult> {
  const started = performance.now();
  const log = opts.log ?? (() => {});
  const ref = opts.ref ?? 'HEAD';
  const root = opts.repoRoot;
  const commit = (await exec('git', ['-C', root, 'rev-parse', `${ref}^{commit}`])).stdout.trim();
  // The commit's own manifest (its version, its workspaces), not the working tree's.
  const rootPkg = JSON.parse((await exec('git', ['-C', root, 'show', `${commit}:package.json`], { maxBuffer: 1 << 24 })).stdout) as { name: string; version: string; workspaces: string[]; engines?: object; license?: string; type?: string };
  const commitTime = (await exec('git', ['-C', root, 'show', '-s', '--format=%ct', commit])).stdout.trim();

  const work = await mkdtemp(join(tmpdir(), 'fm-bundle-'));
  const stage = join(work, 'fieldmesh');
  try {
    await mkdir(stage);
    log(`sources from ${commit.slice(0, 12)}`);
    const wanted = ['package.json', 'package-lock.json', 'README.md', ...rootPkg.workspaces];
    const tracked = new Set((await exec('git', ['-C', root, 'ls-tree', '--name-only', commit])).stdout.split('\n'));
    await pipeGitArchive(root, commit, wanted.filter((p) => tracked.has(p)), stage);

    // The root manifest without dev tooling; workspace manifests pointed at compiled JavaScript.
    await writeFile(
      join(stage, 'package.json'),
      JSON.stringify({ name: rootPkg.name, version: rootPkg.version, private: true, type: rootPkg.type, license: rootPkg.license, engines: rootPkg.engines, workspaces: rootPkg.workspaces }, null, 2) + '\n',
    );
    for (const ws of rootPkg.workspaces) {
      const pkgPath = join(stage, ws, 'package.json');
      const pkg = JSON.parse(await readFile(pkgPath, 'utf8')) as Record<string, unknown>;
      const text = JSON.stringify(pkg, null, 2).replace(/\.\/src\/([^"]*)\.ts"/gu, './src/$1.js"');
      const out = JSON.parse(text) as { dependencies?: Record<string, string> };
      for (const dep of NOT_AT_RUNTIME) delete out.dependencies?.[dep];
      await writeFile(pkgPath, JSON.stringify(out, null, 2) + '\n');
    }

    // TypeScript → JavaScript, side by side (tests stay out: they are not in the bundle at all).
    const esbuild = await import('esbuild');
    const sources = (await walk(stage)).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'));
    log(`compiling ${sources.length} TypeScript files`);
    for (const file of sources) {
      const js = await esbuild.transform(await readFile(file, 'utf8'), { loader: 'ts', format: 'esm', target: 'node20', sourcefile: relative(stage, file) });
      // Relative imports already end in .js (NodeNext); only literal '.ts' specifiers need care.
      await writeFile(file.replace(/\.ts$/u, '.js'), js.code.replace(/(['"])(\.{1,2}\/[^'"]+)\.ts\1/gu, '$1$2.js$1'));
    }
    log('copying production dependencies');
    const { stdout } = await exec('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, maxBuffer: 1 << 26 }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    const nm = join(root, 'node_modules') + sep;
    const pkgs = [...new Set(stdout.split('\n').filter((p) => p.startsWith(nm)))]
      .map((p) => relative(join(root, 'node_modules'), p).split(sep).join('/'))
      .filter((rel) => !rel.startsWith('@fieldmesh/') && !isNotAtRuntime(rel));
    if (pkgs.length === 0) throw new Error('npm ls found no production dependencies: run npm ci in the repo first');
    for (const rel of pkgs) {
      const src = join(root, 'node_modules', rel);
      await cp(src, join(stage, 'node_modules', rel), {
        recursive: true,
        dereference: true,
        // Nested node_modules are listed by npm ls on their own, so only the package itself here.
        filter: (s) => {
          const r = relative(src, s).split(sep).join('/');
          if (r === 'node_modules' || r.startsWith('node_modules/')) return false;
          const full = `${rel}/${r}`;
          return !PRUNE.some((re) => re.test(full));
        },
      });
    }
    await mkdir(join(stage, 'node_modules', '@fieldmesh'), { recursive: true });
    for (const ws of rootPkg.workspaces) {
      const name = (JSON.parse(await readFile(join(stage, ws, 'package.json'), 'utf8')) as { name: string }).name;
      await symlink(join('..', '..', ws), join(stage, 'node_modules', name));
    }

    // `fieldmesh gateway` runs from gateway/dist: the gateway's modules and its pure-JavaScript
    // dependencies in a few files (lazily loaded parts, such as mqtt.js for the uplink, in their own
    // chunks). A start then reads and links ~25 files instead of ~500, which is most of the time
    // to /healthz on a Pi's SD card. Native addons stay external (they are loaded by path), and so
    // does the cloud bridge, which finds its web assets relative to its own files; other commands
    // run from the compiled tree as before.
    log('bundling the gateway command into gateway/dist');
    await esbuild.build({
      absWorkingDir: stage,
      entryPoints: { main: 'gateway/src/cli/main.js', 'sqlite-writer.worker': 'gateway/src/store/sqlite-writer.worker.js' },
      outdir: 'gateway/dist',
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      external: ['better-sqlite3', 'serialport', '@serialport/*', '@fieldmesh/cloud-bridge', '@fieldmesh/cloud-bridge/*'],
      // CommonJS dependencies call require() for Node built-ins; ESM output has none of its own.
      banner: { js: "import { createRequire as __fmCreateRequire } from 'node:module';\nconst require = __fmCreateRequire(import.meta.url);" },
      // Whitespace and syntax only (names kept for stack traces): V8 keeps every loaded source
      // in the heap, and the shorter text is 1.6 MiB less RSS for an idle gateway. The source
      // maps beside the chunks are not loaded unless node runs with --enable-source-maps.
      minifyWhitespace: true,
      minifySyntax: true,
      keepNames: true,
      sourcemap: 'external',
      logLevel: 'error',
    });
    const bin = join(stage, 'gateway', 'bin', 'fieldmesh.js');
    await writeFile(
      bin,
      `#!/usr/bin/env node\n// Bundle build: compiled JavaScript, no TypeScript loader at run time; \`gateway\` from gateway/dist.\nconst { main } = await import(process.argv[2] === 'gateway' ? '../dist/main.js' : '../src/cli/main.js');\nprocess.exitCode = await main(process.argv.slice(2));\n`,
      { mode: 0o755 },
    );

    const files = await walk(stage);
    const native = files.filter((f) => f.endsWith('.node')).map((f) => relative(stage, f).split(sep).join('/'));
    const manifest: BundleManifest = {
      format: 1,
      name: rootPkg.name,
      version: rootPkg.version,
      commit,
      machine: machine(),
      platform: process.platform,
      nodeAbi: process.versions.modules,
      node: process.version,
      native: native.filter((n) => !n.includes('/prebuilds/')),
      prebuiltArm64: [...new Set(native.filter((n) => n.includes('/prebuilds/linux-arm64/')).map((n) => n.split('/prebuilds/')[0]!.replace(/^node_modules\//u, '')))],
    };
    await writeFile(join(stage, 'bundle-manifest.json'), JSON.stringify(manifest, null, 2) + '\n');

    log(`writing ${opts.outFile}`);
    await mkdir(dirname(opts.outFile), { recursive: true });
    await exec('tar', ['--sort=name', `--mtime=@${commitTime}`, '--owner=0', '--group=0', '--numeric-owner', '-I', 'gzip -n -6', '-C', work, '-cf', opts.outFile, 'fieldmesh'], { maxBuffer: 1 << 24 });
    const { size } = await stat(opts.outFile);
    return { outFile: opts.outFile, bytes: size, sha256: await sha256OfFile(opts.outFile), manifest, seconds: (performance.now() - started) / 1000 };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
