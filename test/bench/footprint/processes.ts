import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle } from '#hardware/image/bundle/build';

/** A process under measurement: its pid, its stdout so far, and how it ended. */
export interface Watched {
  child: ChildProcess;
  pid: number;
  /** performance.now() at spawn. */
  startedAt: number;
  /** ms from spawn() to `line` matching on stdout; rejects if the process exits first. */
  waitFor(line: RegExp, timeoutMs?: number): Promise<{ match: RegExpExecArray; ms: number }>;
  exited(): { code: number | null; signal: string | null } | null;
  stderrTail(): string;
  kill(): Promise<void>;
}

export function watch(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Watched {
  const started = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let ended: { code: number | null; signal: string | null } | null = null;
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      ended = { code, signal };
      resolve();
    }),
  );
  return {
    child,
    pid: child.pid!,
    startedAt: started,
    waitFor(line, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`no ${line} on stdout within ${timeoutMs} ms; stderr: ${err.slice(-500)}`)), timeoutMs);
        const check = () => {
          const m = line.exec(out);
          if (m) {
            clearTimeout(deadline);
            child.stdout!.off('data', check);
            resolve({ match: m, ms: performance.now() - started });
          } else if (ended) {
            clearTimeout(deadline);
            reject(new Error(`exited (${JSON.stringify(ended)}) before ${line}; stderr: ${err.slice(-500)}`));
          }
        };
        child.stdout!.on('data', check);
        child.once('exit', check);
        check();
      });
    },
    exited: () => ended,
    stderrTail: () => err,
    async kill() {
      if (!ended) child.kill('SIGTERM');
      const hard = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(hard);
    },
  };
}

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The unpacked `npm run bundle` of HEAD (committed code: stash or commit a change to measure
 * it), as the image installs it. FM_FOOTPRINT_BUNDLE=DIR reuses an unpacked bundle instead.
 */
export async function unpackedBundle(work: string): Promise<string> {
  const given = process.env.FM_FOOTPRINT_BUNDLE;
  if (given) {
    if (!existsSync(join(given, 'gateway/bin/fieldmesh.js'))) throw new Error(`FM_FOOTPRINT_BUNDLE=${given} holds no gateway/bin/fieldmesh.js`);
    return given;
  }
  const tgz = join(work, 'bundle.tgz');
  await buildBundle({ repoRoot, outFile: tgz });
  execFileSync('tar', ['-xzf', tgz, '-C', work]);
  return join(work, 'fieldmesh');
}

/** A gateway config for the bench: auth none (the load has no credentials), no mDNS on a shared host. */
export function gatewayConfig(dir: string, dataDir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, `id: fp\ndataDir: ${dataDir}\nbroker: { port: 0, host: 127.0.0.1, auth: none }\nhttp: { port: 0, host: 127.0.0.1 }\nmesh: { mdns: false }\n`);
  return file;
}

/** Bare aedes on a loopback port: the broker alone, no storage, no guard; prints `port N`. */
export function bareAedesScript(bundle: string): string {
  const file = join(bundle, 'bare-aedes.mjs');
  writeFileSync(
    file,
    `import { createServer } from 'node:net';\nimport { Aedes } from 'aedes';\nconst aedes = await Aedes.createBroker();\nconst server = createServer((s) => aedes.handle(s));\nserver.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port));\nprocess.on('SIGTERM', () => process.exit(0));\n`,
  );
  return file;
}

export const FLOOR_ARGV = [process.execPath, '-e', 'setTimeout(() => {}, 1e9)'];

export function workDir(): string {
  return mkdtempSync(join(tmpdir(), 'fm-bench-footprint-'));
}

export const sourceBin = join(repoRoot, 'gateway/bin/fieldmesh.js');
