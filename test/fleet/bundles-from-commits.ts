import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle, type BundleManifest } from '#hardware/image/bundle/build';

/**
 * Real release bundles (buildBundle: git archive, compiled, production node_modules) of
 * temporary commits on top of HEAD, made without touching the working tree, the index or any
 * ref: a temporary index (GIT_INDEX_FILE) read from HEAD, the changed files written as blobs
 * and put in with `update-index --cacheinfo`, then `write-tree` and `commit-tree`.
 *
 * - base 1.0.0: HEAD as it is (version set), the release a sandbox starts on;
 * - good 1.1.0: HEAD, a higher version;
 * - crash 1.2.0: the gateway command throws before it listens;
 * - noUplink 1.3.0: starts, but its uplink connects to port 1 (refused), so it never confirms
 *   where the uplink was up before.
 *
 * Only committed work is in them (buildBundle builds from git). Cached in the temp dir under a
 * key of the bundled trees at HEAD and these definitions, so the test files of one run (and
 * later runs while the bundled code is unchanged) build each once; a lock keeps two test
 * processes from building the same set at once. One build takes 12-40 s here, by load.
 */
export type BundleName = 'base' | 'good' | 'crash' | 'noUplink';

export interface FleetBundle {
  name: BundleName;
  version: string;
  file: string;
  sha256: string;
  bytes: number;
  commit: string;
  manifest: BundleManifest;
  /** Seconds buildBundle took, when built in this process (0 when taken from the cache). */
  buildSeconds: number;
}

interface Patch {
  file: string;
  anchor: string;
  replace: (anchor: string) => string;
}

const DEFINITIONS: Record<BundleName, { version: string; patches: Patch[] }> = {
  base: { version: '1.0.0', patches: [] },
  good: { version: '1.1.0', patches: [] },
  crash: {
    version: '1.2.0',
    patches: [
      {
        file: 'gateway/src/cli/commands/gateway.ts',
        anchor: '  async run(argv) {\n',
        replace: (a) => `${a}    throw new Error('deliberate fault of a fleet test bundle: the gateway fails before it listens');\n`,
      },
    ],
  },
  noUplink: {
    version: '1.3.0',
    patches: [
      {
        file: 'gateway/src/uplink/uplink-link.ts',
        anchor: 'client = connect(this.url, options);',
        replace: () => "client = connect(this.url.replace(/:\\d+(\\/?)$/u, ':1$1'), options);",
      },
    ],
  },
};

const repo = fileURLToPath(new URL('../../', import.meta.url));
const git = (args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer } = {}) =>
  execFileSync('git', ['-C', repo, ...args], { env: { ...process.env, ...opts.env }, input: opts.input, encoding: 'utf8', maxBuffer: 1 << 26 }).trim();

/** A commit of HEAD with `files` replaced; the working tree, index and refs stay as they are. */
export function commitOnHead(files: Record<string, string>, message: string, base = 'HEAD'): string {
  const index = join(tmpdir(), `fm-index-${process.pid}-${Date.now()}`);
  const env = { GIT_INDEX_FILE: index };
  try {
    git(['read-tree', base], { env });
    for (const [path, text] of Object.entries(files)) {
      const blob = git(['hash-object', '-w', '--stdin'], { input: text });
      git(['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`], { env });
    }
    const tree = git(['write-tree'], { env });
    const ident = { GIT_AUTHOR_NAME: 'fleet test', GIT_AUTHOR_EMAIL: 'fleet-test@localhost', GIT_COMMITTER_NAME: 'fleet test', GIT_COMMITTER_EMAIL: 'fleet-test@localhost' };
    // The base commit's own time: the bundle's file mtimes, so the same definitions give the same bytes.
    const when = git(['show', '-s', '--format=%ct', base]);
    return git(['commit-tree', tree, '-p', base, '-m', message], { env: { ...ident, GIT_AUTHOR_DATE: `${when} +0000`, GIT_COMMITTER_DATE: `${when} +0000` } });
  } finally {
    rmSync(index, { force: true });
  }
}

function commitFor(name: BundleName, head: string): string {
  const def = DEFINITIONS[name];
  const pkg = JSON.parse(git(['show', `${head}:package.json`])) as { version: string };
  const files: Record<string, string> = { 'package.json': JSON.stringify({ ...pkg, version: def.version }, null, 2) + '\n' };
  for (const p of def.patches) {
    const text = git(['show', `${head}:${p.file}`]) + '\n';
    if (!text.includes(p.anchor)) throw new Error(`fleet test bundle ${name}: ${p.file} no longer has ${JSON.stringify(p.anchor)}; update test/fleet/bundles-from-commits.ts`);
    files[p.file] = text.replace(p.anchor, p.replace(p.anchor));
  }
  return commitOnHead(files, `fleet test bundle ${name} ${def.version}`, head);
}

async function withLock<T>(dir: string, run: () => Promise<T>): Promise<T> {
  const lock = join(dir, '.lock');
  const end = Date.now() + 600_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another test process builds; a lock older than 10 minutes is a dead one's.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 600_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
      if (Date.now() > end) throw new Error(`bundle cache ${dir} stayed locked`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await run();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** The four bundles (or those named), built once per HEAD and definitions. */
export async function bundlesFromCommits(names: BundleName[] = ['base', 'good', 'crash', 'noUplink'], opts: { log?: (l: string) => void } = {}): Promise<Record<BundleName, FleetBundle>> {
  const head = git(['rev-parse', 'HEAD']);
  // Keyed by what goes into a bundle (the trees of the bundled paths), not by the commit: a
  // commit touching only tests or docs reuses the set.
  const workspaces = (JSON.parse(git(['show', `${head}:package.json`])) as { workspaces: string[] }).workspaces;
  const key = createHash('sha256')
    .update(git(['ls-tree', head, '--', 'package.json', 'package-lock.json', 'README.md', ...workspaces]))
    .update(JSON.stringify(DEFINITIONS, (_k, v: unknown) => (typeof v === 'function' ? String(v) : v)))
    .update(process.versions.modules)
    .digest('hex')
    .slice(0, 16);
  const dir = join(tmpdir(), `fm-fleet-bundles-${key}`);
  pruneBundleCache([dir]);
  mkdirSync(dir, { recursive: true });
  return withLock(dir, async () => {
    const out = {} as Record<BundleName, FleetBundle>;
    for (const name of names) {
      const meta = join(dir, `${name}.json`);
      if (existsSync(meta)) {
        // The cache is shared by every clone on the machine, so the commit it names may live in
        // another repository: make this one's (same bundled trees, by the key) to name instead.
        out[name] = { ...(JSON.parse(readFileSync(meta, 'utf8')) as FleetBundle), commit: commitFor(name, head), buildSeconds: 0 };
        continue;
      }
      const commit = commitFor(name, head);
      const file = join(dir, `fieldmesh-bundle-${DEFINITIONS[name].version}-${name}.tgz`);
      const r = await buildBundle({ repoRoot: repo, outFile: `${file}.part`, ref: commit, log: opts.log });
      renameSync(`${file}.part`, file);
      const b: FleetBundle = { name, version: r.manifest.version, file, sha256: r.sha256, bytes: r.bytes, commit, manifest: r.manifest, buildSeconds: r.seconds };
      opts.log?.(`bundle ${name} ${b.version}: ${(b.bytes / 2 ** 20).toFixed(1)} MiB in ${r.seconds.toFixed(1)} s`);
      writeFileSync(meta, JSON.stringify(b, null, 2));
      out[name] = b;
    }
    return out;
  });
}

/** Removes cached bundle sets of other code, untouched for 6 hours (they are ~40 MiB each). */
function pruneBundleCache(keep: string[]): void {
  for (const e of readdirSync(tmpdir())) {
    if (e.startsWith('fm-fleet-bundles-') && !keep.includes(join(tmpdir(), e))) {
      const p = join(tmpdir(), e);
      try {
        if (Date.now() - statSync(p).mtimeMs > 6 * 3600_000) rmSync(p, { recursive: true, force: true });
      } catch {
        // another test process pruned it first
      }
    }
  }
}
