import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { additiveProblem, foundSchema, migrate, MIGRATIONS, SCHEMA_VERSION, type Migration } from '#gateway/store/schema';
import { GATEWAY_VERSION } from '#gateway/version';
import { FieldmeshProcess } from '../../e2e/fieldmesh-process.js';
import { scratchDirs } from '../../scratch-dirs.js';

/**
 * Rollbacks after a schema migration (STORAGE.md, "Schema versions and rollbacks"): a release may
 * migrate the reading log forward, and the release before it must still open the log when every
 * newer migration was additive, or refuse with the version to roll forward to, leaving the file
 * as it was. "A newer build" here is `migrate` given this build's list plus one more migration.
 */
const { fresh: freshDir } = scratchDirs('fm-schema-compat-');
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

const NEXT = SCHEMA_VERSION + 1;
const nextAdditive: Migration = {
  version: NEXT,
  why: 'a quality flag per reading and free-text annotations (test)',
  sql: `ALTER TABLE readings ADD COLUMN quality INTEGER NOT NULL DEFAULT 0; CREATE TABLE annotations (seq INTEGER PRIMARY KEY, note TEXT NOT NULL);`,
  additive: true,
};
const nextBreaking: Migration = {
  version: NEXT,
  why: 'values moved to typed columns (test)',
  sql: `ALTER TABLE readings RENAME COLUMN value TO raw_value; ALTER TABLE readings ADD COLUMN num REAL;`,
  additive: false,
};

/** Every row a rollback must not change: readings (the v1 columns), series, dedupe marks, meta. */
function snapshot(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    return {
      readings: db.prepare('SELECT seq, sid, ts, kind, value FROM readings ORDER BY seq').raw().all(),
      series: db.prepare('SELECT id, name, unit FROM series ORDER BY id').raw().all(),
      marks: db.prepare('SELECT device, seq FROM device_seq ORDER BY device, seq').raw().all(),
      epoch: db.prepare("SELECT value FROM meta WHERE key = 'epoch'").pluck().get(),
    };
  } finally {
    db.close();
  }
}

/** A log at `version` as a build before the compat rule left it: no schema_compat table. */
function legacyLog(file: string, version: number): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
  for (const m of MIGRATIONS.filter((x) => x.version <= version)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_version VALUES (?)').run(m.version);
  }
  db.exec("INSERT INTO meta VALUES ('epoch', '00000000000000ab'); INSERT INTO series VALUES (1, 'd/t', 'Cel'), (2, 'd/on', ''), (3, 'd/msg', '')");
  const row = db.prepare('INSERT INTO readings (seq, sid, ts, kind, value) VALUES (?, ?, ?, ?, ?)');
  for (let i = 1; i <= 300; i++) {
    const k = i % 3;
    row.run(i, k + 1, 1_767_225_600_000 + i * 1000, k, k === 0 ? i / 7 : k === 1 ? i % 2 : `m${i}`);
  }
  const mark = db.prepare('INSERT INTO device_seq (device, seq) VALUES (?, ?)');
  for (let i = 1; i <= 20; i++) mark.run('d', i);
  db.close();
}

describe('reading log schema compatibility for rollbacks (real SQLite files)', () => {
  it.each(MIGRATIONS.map((m) => m.version))('a log at schema %i (written before the compat rule) migrates to the newest without one reading changing', (version) => {
    const file = join(freshDir(), 'gateway.db');
    legacyLog(file, version);
    const before = snapshot(file);
    const log = new SqliteReadingLog(file);
    expect(log.openedAtVersion).toBe(version);
    expect(log.epoch).toBe('00000000000000ab');
    const read = log.readAfter(0, 1000);
    expect(read.map((r) => r.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(read[0]).toEqual({ seq: 1, series: 'd/on', ts: 1_767_225_601_000, value: true });
    expect(read[2]).toEqual({ seq: 3, series: 'd/t', ts: 1_767_225_603_000, value: 3 / 7, unit: 'Cel' });
    expect(read[1]).toEqual({ seq: 2, series: 'd/msg', ts: 1_767_225_602_000, value: 'm2' });
    expect(log.append([{ series: 'd/t', ts: 1_767_300_000_000, value: 1, unit: 'Cel' }])).toEqual({ firstSeq: 301, lastSeq: 301 });
    log.close();
    const after = snapshot(file);
    expect(after.readings.slice(0, 300)).toEqual(before.readings);
    expect({ ...after, readings: [] }).toEqual({ ...before, readings: [] });
    // Every shipped step after 1 is additive: a pre-rule log gets compat 1.
    expect(foundSchema(new Database(file, { readonly: true }))).toEqual({ version: SCHEMA_VERSION, compat: 1, compatRelease: null });
  });

  it("after a newer build's additive migration, this build opens the log, reads it and appends to it; the newer build then reads everything", () => {
    const file = join(freshDir(), 'gateway.db');
    const mine = new SqliteReadingLog(file);
    mine.append(Array.from({ length: 10 }, (_, i) => ({ series: 'd/t', ts: 1_767_225_600_000 + i, value: i })));
    mine.close();
    // The newer release migrates forward and writes with its new column and table.
    const newer = new Database(file);
    expect(migrate(newer, [...MIGRATIONS, nextAdditive], '9.9.0')).toBe(SCHEMA_VERSION);
    newer.exec("UPDATE readings SET quality = 2 WHERE seq = 3; INSERT INTO annotations VALUES (3, 'sensor cleaned')");
    newer.close();
    const before = snapshot(file);

    // Rolled back: this build opens it.
    const back = new SqliteReadingLog(file);
    expect(back.openedAtVersion).toBe(NEXT);
    expect(back.readAfter(0, 100).map((r) => r.value)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(back.append([{ series: 'd/t', ts: 1_767_300_000_000, value: 42 }])).toEqual({ firstSeq: 11, lastSeq: 11 });
    back.close();
    const after = snapshot(file);
    expect(after.readings.slice(0, 10)).toEqual(before.readings);

    // Rolled forward again: nothing to migrate, the newer build's data intact, ours defaulted.
    const again = new Database(file);
    expect(migrate(again, [...MIGRATIONS, nextAdditive], '9.9.0')).toBe(NEXT);
    expect(again.prepare('SELECT seq, quality FROM readings WHERE seq IN (3, 11) ORDER BY seq').raw().all()).toEqual([
      [3, 2],
      [11, 0],
    ]);
    expect(again.prepare('SELECT note FROM annotations').pluck().all()).toEqual(['sensor cleaned']);
    expect(foundSchema(again)).toEqual({ version: NEXT, compat: 1, compatRelease: GATEWAY_VERSION });
    again.close();
  });

  it("after a newer build's non-additive migration, this build refuses with the version to roll forward to and leaves the file byte for byte", async () => {
    const dir = freshDir();
    const file = join(dir, 'gateway.db');
    const mine = new SqliteReadingLog(file);
    mine.append([{ series: 'd/t', ts: 1_767_225_600_000, value: 1 }]);
    mine.close();
    const newer = new Database(file);
    migrate(newer, [...MIGRATIONS, nextBreaking], '9.9.0');
    // A later additive step on top does not lower the bar.
    migrate(newer, [...MIGRATIONS, nextBreaking, { ...nextAdditive, version: NEXT + 1, sql: 'CREATE TABLE extra (x INTEGER);' }], '9.10.0');
    expect(foundSchema(newer)).toEqual({ version: NEXT + 1, compat: NEXT, compatRelease: '9.9.0' });
    newer.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
    const hash = sha(file);

    let err: unknown;
    try {
      new SqliteReadingLog(file);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'FM_ERR_STORE_SCHEMA' });
    const msg = (err as Error).message;
    expect(msg).toContain(`has schema version ${NEXT + 1}, usable only by builds that know schema ${NEXT} or later (fieldmesh 9.9.0 migrated it); this build knows ${SCHEMA_VERSION}`);
    expect(msg).toMatch(/Roll forward to a release with schema \d+ or later; the reading log was not changed/);
    expect(sha(file)).toBe(hash);

    // The real gateway process: one clear line, non-zero exit, the file still as it was.
    const cfg = join(dir, 'gw.yaml');
    writeFileSync(cfg, stringify({ id: 'gw-rb', dataDir: dir, broker: { port: 0, host: '127.0.0.1', auth: 'none' }, http: { port: 0, host: '127.0.0.1' }, mesh: { mdns: false } }), { mode: 0o600 });
    const p = new FieldmeshProcess(['gateway', '--config', cfg, '--log-level', 'warn']);
    const [code] = (await once(p.child, 'exit')) as [number | null];
    expect(code, p.stderrTail).not.toBe(0);
    expect(p.stderrTail).toMatch(/FM_ERR_STORE_SCHEMA: .*Roll forward to a release with schema/);
    expect(p.stderrTail).not.toMatch(/^\s+at /m);
    expect(sha(file)).toBe(hash);
  }, 60_000);

  it('a migration declared additive must be one: new tables, indexes, nullable or defaulted columns only', () => {
    for (const m of MIGRATIONS) if (m.additive) expect(additiveProblem(m), `migration ${m.version}`).toBeNull();
    expect(additiveProblem(nextAdditive)).toBeNull();
    const bad = (sql: string) => additiveProblem({ version: NEXT, why: 'x', sql, additive: true });
    expect(bad('ALTER TABLE readings RENAME COLUMN value TO v')).toMatch(/not a new table, index or column/);
    expect(bad('ALTER TABLE readings DROP COLUMN wall_off')).toMatch(/not a new table/);
    expect(bad('UPDATE readings SET ts = ts + 1')).toMatch(/not a new table/);
    expect(bad('DROP TABLE loss')).toMatch(/not a new table/);
    expect(bad('ALTER TABLE readings ADD COLUMN q INTEGER NOT NULL')).toMatch(/NOT NULL column without a DEFAULT/);
    // Refused before anything runs.
    const file = join(freshDir(), 'gateway.db');
    new SqliteReadingLog(file).close();
    const hash = sha(file);
    const db = new Database(file);
    expect(() => migrate(db, [...MIGRATIONS, { ...nextBreaking, additive: true }])).toThrow(expect.objectContaining({ code: 'FM_ERR_STORE_SCHEMA', message: expect.stringMatching(/migration \d+ is declared additive but .*RENAME/) }));
    expect(foundSchema(db).version).toBe(SCHEMA_VERSION);
    db.close();
    expect(sha(file)).toBe(hash);
  });
});
