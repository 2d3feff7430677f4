import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../cloud-fixture.js';

/** The newest PostgreSQL server binaries Debian installed, or null. */
export function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0]!, 'bin') : null;
}

export function requirePostgres(): string {
  const bin = postgresBin();
  if (!bin) {
    const msg = '\n\n*** PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) are missing: install Debian `postgresql` (listed in .ci/apt-packages) ***\n\n';
    console.error(msg);
    throw new Error(msg);
  }
  return bin;
}

export interface PgCluster {
  url: string;
  port: number;
  stop: () => void;
}

/**
 * A throwaway PostgreSQL cluster in a temp dir on a free loopback port. initdb refuses to run as
 * root, so as root it runs as the `postgres` user (runuser).
 */
export async function startPgCluster(): Promise<PgCluster> {
  const bin = requirePostgres();
  const dir = mkdtempSync(join(tmpdir(), 'fm-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const asPostgres = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) =>
    execFileSync(asPostgres ? 'runuser' : cmd, asPostgres ? ['-u', 'postgres', '--', cmd, ...args] : args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, timeout: 120_000 });
  run(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'fieldmesh', '--locale=C', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '120', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=60`, 'start']);
  let stopped = false;
  return {
    url: `postgres://fieldmesh@127.0.0.1:${port}/postgres`,
    port,
    stop: () => {
      if (stopped) return;
      stopped = true;
      try {
        run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A fresh database in the cluster (each test its own, so stores never see each other's rows). */
let dbCounter = 0;
export async function freshDatabase(cluster: PgCluster): Promise<string> {
  const { default: pg } = await import('pg');
  const name = `fm_${process.pid}_${++dbCounter}`;
  const c = new pg.Client({ connectionString: cluster.url });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  return cluster.url.replace(/\/postgres$/, `/${name}`);
}
