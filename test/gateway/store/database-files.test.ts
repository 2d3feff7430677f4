import { chmodSync, closeSync, existsSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite, SYNCHRONOUS_FULL, type SqliteConnection } from '@fieldmesh/device-sdk/sqlite';
import { Gateway } from '#gateway/gateway';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { labConfig, startCloud, tempDir, waitFor } from '../../cloud-bridge/cloud-fixture.js';
import { CLUSTER_KEY } from '../relay/relay-fixture.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const mode = (f: string): string => (statSync(f).mode & 0o777).toString(8);

/** Every file under `dir` that SQLite owns: databases, their WAL and shared-memory files, the lock. */
function sqliteFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const f = join(e.parentPath, e.name);
    const head = Buffer.alloc(16);
    const fd = openSync(f, 'r');
    const n = readFileSync(fd).copy(head, 0, 0, 16);
    closeSync(fd);
    if (/-(wal|shm)$/.test(f) || (n === 16 && head.toString('latin1') === 'SQLite format 3\u0000')) out.push(f);
  }
  return out.sort();
}

describe('openSqlite: the one way a database is opened', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it('creates the file and its -wal/-shm 0600, and reads back WAL and synchronous=FULL', () => {
    const t = tempDir('fm-open-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'x.db');
    const db = openSqlite(Database, file);
    cleanups.push(() => void db.close());
    db.exec('CREATE TABLE t (a); INSERT INTO t VALUES (1)');
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(SYNCHRONOUS_FULL);
    expect([file, `${file}-wal`, `${file}-shm`].map((f) => [relative(t.dir, f), mode(f)])).toEqual([
      ['x.db', '600'],
      ['x.db-wal', '600'],
      ['x.db-shm', '600'],
    ]);
  });

  it('tightens a database left group- and world-readable by an older build', () => {
    const t = tempDir('fm-open-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'old.db');
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE t (a)');
    old.close();
    chmodSync(file, 0o644);
    const db = openSqlite(Database, file);
    cleanups.push(() => void db.close());
    db.exec('INSERT INTO t VALUES (1)');
    expect(mode(file)).toBe('600');
    expect(mode(`${file}-wal`)).toBe('600');
  });

  it('refuses a connection that does not take WAL or FULL, through the caller\'s error', () => {
    // An in-memory twin of a filesystem that refuses WAL (a network share): journal_mode stays delete.
    const closed: string[] = [];
    class RefusingDriver implements SqliteConnection {
      constructor(readonly file: string) {}
      pragma(source: string): unknown {
        if (source === 'journal_mode') return 'delete';
        if (source === 'synchronous') return SYNCHRONOUS_FULL;
        return undefined;
      }
      close(): void {
        closed.push(this.file);
      }
    }
    const t = tempDir('fm-open-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'share.db');
    const fail = (kind: string, message: string): Error => Object.assign(new Error(message), { code: `X_${kind}` });
    expect(() => openSqlite(RefusingDriver, file, { fail })).toThrow(expect.objectContaining({ code: 'X_durability', message: expect.stringContaining('journal_mode=delete') }));
    expect(closed).toEqual([file]);
    expect(() => openSqlite(Database, join(t.dir, 'missing-dir', 'x.db'), { fail })).toThrow(expect.objectContaining({ code: 'X_open' }));
  });

  it('is the only place source code constructs a SQLite connection', () => {
    const offenders: string[] = [];
    for (const pkg of ['gateway/src', 'cloud-bridge/src', 'hardware/src', 'device-sdk/src']) {
      for (const e of readdirSync(join(ROOT, pkg), { withFileTypes: true, recursive: true })) {
        if (!e.isFile() || !/\.(ts|js)$/.test(e.name)) continue;
        const f = join(e.parentPath, e.name);
        if (/new\s+Database\s*\(/.test(readFileSync(f, 'utf8'))) offenders.push(relative(ROOT, f));
      }
    }
    expect(offenders).toEqual([]);
  });

  it('every database a running gateway (with relay and replicas) and cloud create is 0600 and in WAL mode', async () => {
    const t = tempDir('fm-dbfiles-');
    cleanups.push(t.cleanup);
    const cloudDir = join(t.dir, 'cloud');
    const cloud = await startCloud(labConfig(cloudDir));
    cleanups.push(() => cloud.stop());
    const gwDir = join(t.dir, 'gw-a');
    const gw = new Gateway(
      parseGatewayConfig({
        id: 'gw-a',
        dataDir: gwDir,
        broker: { port: 0, host: '127.0.0.1', auth: 'none' },
        http: { port: 0, host: '127.0.0.1' },
        mesh: { key: CLUSTER_KEY, mdns: false, port: 0, bind: '127.0.0.1' },
        relay: { host: '127.0.0.1' },
        uplink: { url: `mqtt://127.0.0.1:${cloud.brokerPort}` },
      }),
    );
    await gw.start();
    cleanups.push(() => gw.stop());
    gw.store.append([{ series: 'd1/t', ts: Date.now(), value: 1 }]);
    await waitFor(() => gw.store.ackWatermark() === gw.store.lastSeq(), 'the reading acknowledged by the cloud');

    const files = [...sqliteFiles(gwDir), ...sqliteFiles(cloudDir)].map((f) => relative(t.dir, f));
    // The databases the two create: a missing one means this test no longer sees what it checks.
    for (const name of ['gw-a/gateway.db', 'gw-a/gateway.lock', 'gw-a/replicas.db', 'cloud/cloud.sqlite', 'cloud/alerts.sqlite']) expect(files).toContain(name);
    expect(files.filter((f) => f.endsWith('-wal')).length).toBeGreaterThanOrEqual(4);
    expect(files.map((f) => [f, mode(join(t.dir, f))])).toEqual(files.map((f) => [f, '600']));
    for (const f of files.filter((f) => !/-(wal|shm)$/.test(f) && !f.endsWith('.lock'))) {
      const look = new Database(join(t.dir, f), { readonly: true, fileMustExist: true });
      expect([f, look.pragma('journal_mode', { simple: true })]).toEqual([f, 'wal']);
      look.close();
    }
    // The reading log's own connection reads FULL back (per connection: not visible from outside).
    expect(gw.store.durability()).toEqual({ journalMode: 'wal', synchronous: SYNCHRONOUS_FULL });
    expect(existsSync(join(gwDir, 'gateway.db-wal'))).toBe(true);
  });
});
