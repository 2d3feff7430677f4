import { existsSync, renameSync } from 'node:fs';
import Database from 'better-sqlite3';
import { openSqlite } from '@fieldmesh/device-sdk/sqlite';
import { silentLogger, systemClock, type Logger } from '@fieldmesh/device-sdk';
import { SALVAGE_META_KEY, type SalvageReport } from './salvage-report.js';
import { SqliteReadingLog } from './sqlite-reading-log.js';

export type { SalvageReport } from './salvage-report.js';

type Opts = ConstructorParameters<typeof SqliteReadingLog>[1];
/** Rows per read while copying; a failing chunk is retried row by row. */
const CHUNK = 1000;

/**
 * Opens the reading log, checking it first (`PRAGMA quick_check`: a full read, seconds for
 * millions of rows, worth it once per start against silently serving a damaged outbox). A
 * database SQLite calls corrupt (SQLITE_CORRUPT, SQLITE_NOTADB, or a failed check) is moved aside,
 * never deleted, and what can still be read is salvaged into a fresh one: identity (epoch, ack
 * watermark, highest seq), series, dedupe marks, loss counts, then readings chunk by chunk and,
 * where a chunk fails, row by row. What could not be read is counted (loss `unreadable`).
 */
export function openReadingLog(file: string, opts: Opts = {}, logger: Logger = silentLogger): { log: SqliteReadingLog; salvage: SalvageReport | null } {
  const damage = existsSync(file) ? checkDatabase(file) : null;
  if (damage === null) return { log: new SqliteReadingLog(file, opts), salvage: null };
  const now = (opts.clock ?? systemClock).now();
  const movedTo = `${file}.corrupt-${now}`;
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(file + suffix)) renameSync(file + suffix, movedTo + suffix);
  logger.error({ file, movedTo, reason: damage }, 'reading log is damaged: moved aside, salvaging what can be read into a fresh database');
  const report = salvageInto(movedTo, file, opts, damage, now);
  logger.warn({ ...report, unreadableRanges: report.unreadableRanges.slice(0, 20) }, 'salvage done');
  return { log: new SqliteReadingLog(file, opts), salvage: report };
}

/** null when sound; else what is wrong. */
function checkDatabase(file: string): string | null {
  let db: Database.Database | null = null;
  try {
    // As found: journal pragmas would write to a file not yet known to be sound.
    db = openSqlite(Database, file, { fileMustExist: true, durability: 'as-is' });
    const rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
    if (rows.length !== 1 || rows[0]!.quick_check !== 'ok') return `quick_check: ${rows.map((r) => r.quick_check).slice(0, 3).join('; ')}`;
    return null;
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')) return `${code}: ${(err as Error).message}`;
    throw err; // not damage (permissions, missing directory): the normal open reports it
  } finally {
    try {
      db?.close();
    } catch {
      // a damaged file may refuse even to close cleanly
    }
  }
}

function salvageInto(damaged: string, file: string, opts: Opts, reason: string, at: number): SalvageReport {
  const report: SalvageReport = { at, reason, movedTo: damaged, readingsCopied: 0, unreadableRanges: [], unreadableReadings: 0, keptIdentity: false };
  const fresh = new SqliteReadingLog(file, { ...opts, commitThread: false });
  fresh.close();
  const out = openSqlite(Database, file);
  let src: Database.Database | null = null;
  try {
    src = openSqlite(Database, damaged, { readonly: true, fileMustExist: true });
  } catch {
    src = null;
  }
  const tryAll = <T>(sql: string, ...args: unknown[]): T[] => {
    try {
      return src ? (src.prepare(sql).all(...args) as T[]) : [];
    } catch {
      return [];
    }
  };
  const meta = tryAll<{ key: string; value: string }>('SELECT key, value FROM meta');
  const byKey = new Map(meta.map((m) => [m.key, m.value]));
  const setMeta = out.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  out.transaction(() => {
    if (byKey.has('epoch')) {
      for (const k of ['epoch', 'ack_watermark', 'seq_floor', 'last_good_wall']) if (byKey.has(k)) setMeta.run(k, byKey.get(k)!);
      report.keptIdentity = true;
    }
    for (const s of tryAll<{ id: number; name: string; unit: string }>('SELECT id, name, unit FROM series')) out.prepare('INSERT OR IGNORE INTO series (id, name, unit) VALUES (?, ?, ?)').run(s.id, s.name, s.unit);
    for (const m of tryAll<{ device: string; seq: number; digest: string | null }>('SELECT device, seq, digest FROM device_seq'))
      out.prepare('INSERT OR IGNORE INTO device_seq (device, seq, digest) VALUES (?, ?, ?)').run(m.device, m.seq, m.digest);
    for (const l of tryAll<{ series: string; reason: string; count: number }>('SELECT series, reason, count FROM loss'))
      out.prepare('INSERT OR IGNORE INTO loss (series, reason, count) VALUES (?, ?, ?)').run(l.series, l.reason, l.count);
  })();

  // Readings, by seq: the seq is the rowid, so a range read touches only its own pages.
  const maxSeq = Math.max(Number(byKey.get('seq_floor') ?? 0), Number(tryAll<{ m: number | null }>('SELECT max(seq) AS m FROM readings')[0]?.m ?? 0));
  const insert = out.prepare('INSERT OR IGNORE INTO readings (seq, sid, ts, kind, value, boot, mono, wall_off) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  type Row = [number, number, number, number, number | string, number | null, number | null, number | null];
  let readRange: Database.Statement | null = null;
  let readOne: Database.Statement | null = null;
  try {
    readRange = src?.prepare('SELECT seq, sid, ts, kind, value, boot, mono, wall_off FROM readings WHERE seq > ? AND seq <= ? ORDER BY seq').raw() ?? null;
    readOne = src?.prepare('SELECT seq, sid, ts, kind, value, boot, mono, wall_off FROM readings WHERE seq = ?').raw() ?? null;
  } catch {
    // schema before v4 or unreadable schema: fall back to the base columns
    try {
      readRange = src?.prepare('SELECT seq, sid, ts, kind, value, NULL, NULL, NULL FROM readings WHERE seq > ? AND seq <= ? ORDER BY seq').raw() ?? null;
      readOne = src?.prepare('SELECT seq, sid, ts, kind, value, NULL, NULL, NULL FROM readings WHERE seq = ?').raw() ?? null;
    } catch {
      readRange = readOne = null;
    }
  }
  let badFrom = -1;
  const markBad = (seq: number, bad: boolean): void => {
    if (bad && badFrom < 0) badFrom = seq;
    if (!bad && badFrom >= 0) {
      report.unreadableRanges.push([badFrom, seq - 1]);
      report.unreadableReadings += seq - badFrom;
      badFrom = -1;
    }
  };
  const copy = out.transaction((rows: Row[]) => {
    for (const r of rows) insert.run(...r);
  });
  for (let lo = 0; lo < maxSeq; lo += CHUNK) {
    const hi = Math.min(maxSeq, lo + CHUNK);
    let rows: Row[] | null = null;
    try {
      rows = readRange ? (readRange.all(lo, hi) as Row[]) : null;
    } catch {
      rows = null;
    }
    if (rows) {
      if (badFrom >= 0 && rows.length > 0) markBad(rows[0]![0], false);
      copy(rows);
      report.readingsCopied += rows.length;
      continue;
    }
    // The chunk touches a damaged page: row by row.
    const good: Row[] = [];
    for (let seq = lo + 1; seq <= hi; seq++) {
      try {
        const r = readOne ? (readOne.get(seq) as Row | undefined) : undefined;
        if (readOne === null) throw new Error('unreadable');
        markBad(seq, false);
        if (r) good.push(r);
      } catch {
        markBad(seq, true);
      }
    }
    copy(good);
    report.readingsCopied += good.length;
  }
  if (badFrom >= 0) markBad(maxSeq + 1, false);
  out.transaction(() => {
    setMeta.run('seq_floor', String(maxSeq));
    setMeta.run(SALVAGE_META_KEY, JSON.stringify({ ...report, unreadableRanges: report.unreadableRanges.slice(0, 100) }));
    if (report.unreadableReadings > 0) {
      out.prepare("INSERT INTO loss (series, reason, count) VALUES ('*', 'unreadable', ?) ON CONFLICT (series, reason) DO UPDATE SET count = count + excluded.count").run(report.unreadableReadings);
    }
  })();
  try {
    src?.close();
  } catch {
    // ignore
  }
  out.close();
  return report;
}
