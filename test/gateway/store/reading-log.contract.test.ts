import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Reading } from '@fieldmesh/device-sdk';
import type { ReadingLog } from '#gateway/store/reading-log';
import { DEVICE_SEQ_WINDOW } from '#gateway/store/reading-log';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { MIGRATIONS, SCHEMA_VERSION } from '#gateway/store/schema';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fm-store-'));
  dirs.push(dir);
  return join(dir, 'gateway.db');
}

const T = Date.UTC(2026, 0, 1);
const r = (i: number, extra: Partial<Reading> = {}): Reading => ({ series: `dev1/s${i % 3}`, ts: T + i, value: i * 1.5, ...extra });

describe.each([
  ['SqliteReadingLog', () => new SqliteReadingLog(tempFile())],
  ['MemoryReadingLog', () => new MemoryReadingLog()],
] as Array<[string, () => ReadingLog]>)('ReadingLog contract: %s', (_name, make) => {
  let log: ReadingLog;
  afterEach(() => log?.close());

  it('backlog bytes: 16 per row plus the value (8 number, 1 boolean, UTF-8 bytes of a string), exact as acks move', () => {
    log = make();
    log.append([r(1), r(2, { value: true }), r(3, { value: 'héllo' }), r(4)]);
    expect(log.backlog()).toMatchObject({ readings: 4, bytes: 24 + 17 + 22 + 24 });
    log.advanceAckWatermark(2);
    expect(log.backlog()).toMatchObject({ readings: 2, bytes: 22 + 24 });
    log.advanceAckWatermark(4);
    expect(log.backlog()).toEqual({ readings: 0, bytes: 0, oldestUnsentTs: null });
  });

  it('appends with contiguous sequence numbers from 1 and reads them back in order', () => {
    log = make();
    expect(log.lastSeq()).toBe(0);
    expect(log.append([r(1), r(2)])).toEqual({ firstSeq: 1, lastSeq: 2 });
    expect(log.append([r(3, { value: true }), r(4, { value: 'open', unit: 'state' }), r(5, { value: false, unit: 'Cel' })])).toEqual({ firstSeq: 3, lastSeq: 5 });
    expect(log.lastSeq()).toBe(5);
    const back = log.readAfter(0, 100);
    expect(back.map((x) => x.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(back[2]).toEqual({ seq: 3, series: 'dev1/s0', ts: T + 3, value: true });
    expect(back[3]).toEqual({ seq: 4, series: 'dev1/s1', ts: T + 4, value: 'open', unit: 'state' });
    expect(back[4]).toEqual({ seq: 5, series: 'dev1/s2', ts: T + 5, value: false, unit: 'Cel' });
    expect(log.readAfter(3, 1).map((x) => x.seq)).toEqual([4]);
    expect(log.readAfter(5, 10)).toEqual([]);
  });

  it('keeps every row of large appends, across the multi-row insert boundary', () => {
    log = make();
    for (const n of [31, 32, 33, 100]) log.append(Array.from({ length: n }, (_, i) => r(i, { value: i % 2 ? `v${i}` : i })));
    const all = log.readAfter(0, 1000);
    expect(all.map((x) => x.seq)).toEqual(Array.from({ length: 196 }, (_, i) => i + 1));
    expect(all[31 + 32]).toMatchObject({ seq: 64, ts: T, value: 0 });
    expect(all[195]).toMatchObject({ seq: 196, ts: T + 99, value: 'v99' });
  });

  it('keeps an epoch and an empty append changes nothing', () => {
    log = make();
    expect(log.epoch).toMatch(/^[0-9a-f]{16}$/);
    expect(log.append([])).toEqual({ firstSeq: 1, lastSeq: 0 });
  });

  it('moves the ack watermark forward only, never past the last seq', () => {
    log = make();
    log.append([r(1), r(2), r(3)]);
    expect(log.ackWatermark()).toBe(0);
    log.advanceAckWatermark(2);
    log.advanceAckWatermark(1);
    expect(log.ackWatermark()).toBe(2);
    log.advanceAckWatermark(99);
    expect(log.ackWatermark()).toBe(3);
  });

  it('reports the backlog above the watermark', () => {
    log = make();
    expect(log.backlog()).toEqual({ readings: 0, bytes: 0, oldestUnsentTs: null });
    log.append([r(1), r(2), r(3)]);
    log.advanceAckWatermark(1);
    const b = log.backlog();
    expect(b.readings).toBe(2);
    expect(b.bytes).toBeGreaterThan(0);
    expect(b.oldestUnsentTs).toBe(T + 2);
  });

  it('quarantines a batch, counts it and moves the watermark past it', () => {
    log = make();
    log.append([r(1), r(2), r(3), r(4)]);
    log.quarantine(1, 3, 'cloud refused: corrupt');
    expect(log.ackWatermark()).toBe(3);
    expect(log.quarantined!()).toEqual({ batches: 1, readings: 3 });
  });

  it('remembers device sequence marks appended with readings, within the window', () => {
    log = make();
    log.append([r(1)], [{ device: 'dev1', seq: 7 }]);
    expect(log.seenDeviceSeq!('dev1', 7)).toBe(true);
    expect(log.seenDeviceSeq!('dev1', 8)).toBe(false);
    expect(log.seenDeviceSeq!('dev2', 7)).toBe(false);
    log.append([r(2)], [{ device: 'dev1', seq: 7 + DEVICE_SEQ_WINDOW + 1 }]);
    expect(log.seenDeviceSeq!('dev1', 7)).toBe(false);
  });

  it('matches a mark with a digest only to the same digest (a restarted counter is new content)', () => {
    log = make();
    log.append([r(1)], [{ device: 'dev1', seq: 1, digest: 'aaa' }, { device: 'dev2', seq: 1 }]);
    expect(log.seenDeviceSeq!('dev1', 1, 'aaa')).toBe(true);
    expect(log.seenDeviceSeq!('dev1', 1, 'bbb')).toBe(false);
    expect(log.seenDeviceSeq!('dev1', 1)).toBe(true);
    expect(log.seenDeviceSeq!('dev2', 1, 'zzz')).toBe(true); // a mark without digest matches any
    log.append([r(2)], [{ device: 'dev1', seq: 1, digest: 'bbb' }]);
    expect(log.seenDeviceSeq!('dev1', 1, 'bbb')).toBe(true);
    expect(log.seenDeviceSeq!('dev1', 1, 'aaa')).toBe(false);
  });

  it('refuses malformed readings whole, storing none of the batch', () => {
    log = make();
    expect(() => log.append([r(1), { series: 'nodevice', ts: T, value: 1 }])).toThrow(expect.objectContaining({ code: 'FM_ERR_STORE_INPUT' }));
    expect(() => log.append([r(1), { series: 'a/b', ts: 1.5, value: 1 }])).toThrow(expect.objectContaining({ code: 'FM_ERR_STORE_INPUT' }));
    expect(() => log.append([{ series: 'a/b', ts: T, value: Number.NaN }])).toThrow(expect.objectContaining({ code: 'FM_ERR_STORE_INPUT' }));
    expect(log.lastSeq()).toBe(0);
  });

  it('refuses use after close with a coded error', () => {
    log = make();
    log.close();
    expect(() => log.append([r(1)])).toThrow(expect.objectContaining({ code: 'FM_ERR_STORE_CLOSED' }));
  });
});

describe('SqliteReadingLog with a commit thread (appendAsync)', () => {
  it('appends off the event loop with contiguous seqs, readable at once, durable across reopen', async () => {
    const file = tempFile();
    const a = new SqliteReadingLog(file, { commitThread: true });
    expect(await a.appendAsync([r(1), r(2, { unit: 'Cel' })], [{ device: 'dev1', seq: 9 }])).toEqual({ firstSeq: 1, lastSeq: 2 });
    expect(a.lastSeq()).toBe(2);
    // Series interned by the commit thread are learnt by the reading connection.
    expect(a.readAfter(0, 10)).toEqual([
      { seq: 1, series: 'dev1/s1', ts: T + 1, value: 1.5 },
      { seq: 2, series: 'dev1/s2', ts: T + 2, value: 3, unit: 'Cel' },
    ]);
    expect(a.seenDeviceSeq('dev1', 9)).toBe(true);
    const big = Array.from({ length: 70 }, (_, i) => r(i, { value: i % 3 === 0 ? true : i }));
    expect(await a.appendAsync(big)).toEqual({ firstSeq: 3, lastSeq: 72 });
    expect(a.readAfter(2, 100).map((x) => x.value)).toEqual(big.map((x) => x.value));
    a.append([r(3)]);
    a.advanceAckWatermark(0);
    const pending = a.appendAsync([r(3)]);
    expect(() => a.append([r(4)])).toThrow(expect.objectContaining({ code: 'FM_ERR_STORE_BUSY' }));
    await expect(a.appendAsync([r(4)])).rejects.toMatchObject({ code: 'FM_ERR_STORE_BUSY' });
    expect(await pending).toEqual({ firstSeq: 74, lastSeq: 74 });
    expect(a.append([r(5)])).toEqual({ firstSeq: 75, lastSeq: 75 });
    await a.closeAsync();
    const b = new SqliteReadingLog(file);
    expect(b.readAfter(0, 100).map((x) => x.seq)).toEqual(Array.from({ length: 75 }, (_, i) => i + 1));
    b.close();
  });

  it('refuses malformed readings before they reach the thread', async () => {
    const a = new SqliteReadingLog(tempFile(), { commitThread: true });
    await expect(a.appendAsync([{ series: 'x', ts: T, value: 1 }])).rejects.toMatchObject({ code: 'FM_ERR_STORE_INPUT' });
    expect(await a.appendAsync([r(1)])).toEqual({ firstSeq: 1, lastSeq: 1 });
    await a.closeAsync();
  });
});

describe('SqliteReadingLog on a real file', () => {
  it('keeps epoch, readings, watermark and marks across reopen, and is WAL + synchronous=FULL each time', async () => {
    const file = tempFile();
    const a = new SqliteReadingLog(file);
    a.append([r(1), r(2)], [{ device: 'dev1', seq: 1 }]);
    a.advanceAckWatermark(1);
    const epoch = a.epoch;
    a.close();
    const b = new SqliteReadingLog(file);
    expect(b.durability()).toEqual({ journalMode: 'wal', synchronous: 2 });
    expect(b.epoch).toBe(epoch);
    expect(b.openedAtVersion).toBe(SCHEMA_VERSION);
    expect(b.lastSeq()).toBe(2);
    expect(b.ackWatermark()).toBe(1);
    expect(b.seenDeviceSeq('dev1', 1)).toBe(true);
    expect(b.append([r(3)])).toEqual({ firstSeq: 3, lastSeq: 3 });
    expect(b.readAfter(0, 10).map((x) => x.value)).toEqual([1.5, 3, 4.5]);
    b.close();
    // An independent connection sees the settings the log insisted on.
    const Database = (await import('better-sqlite3')).default;
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
  });

  it('migrates a version 1 database, keeping its data', async () => {
    const file = tempFile();
    const Database = (await import('better-sqlite3')).default;
    const raw = new Database(file);
    raw.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    raw.exec(MIGRATIONS[0]!.sql);
    raw.exec("INSERT INTO schema_version VALUES (1); INSERT INTO meta VALUES ('epoch', '00000000000000aa'); INSERT INTO series VALUES (1, 'd/x', ''); INSERT INTO readings VALUES (1, 1, 1767225600000, 0, 5); INSERT INTO device_seq VALUES ('d', 3)");
    raw.close();
    const log = new SqliteReadingLog(file);
    expect(log.openedAtVersion).toBe(1);
    expect(log.epoch).toBe('00000000000000aa');
    expect(log.readAfter(0, 10)).toEqual([{ seq: 1, series: 'd/x', ts: 1767225600000, value: 5 }]);
    expect(log.seenDeviceSeq('d', 3, 'any')).toBe(true);
    log.append([{ series: 'd/x', ts: T, value: 6 }], [{ device: 'd', seq: 4, digest: 'q' }]);
    expect(log.seenDeviceSeq('d', 4, 'r')).toBe(false);
    log.close();
  });

  it('a fresh database gets a fresh epoch', () => {
    const a = new SqliteReadingLog(tempFile());
    const b = new SqliteReadingLog(tempFile());
    expect(a.epoch).not.toBe(b.epoch);
    a.close();
    b.close();
  });

  it('refuses a database from a newer, incompatible schema with FM_ERR_STORE_SCHEMA', async () => {
    const file = tempFile();
    new SqliteReadingLog(file).close();
    const Database = (await import('better-sqlite3')).default;
    const raw = new Database(file);
    // A newer build's non-additive migration 99: its compat version is 99 (schema-compat.test.ts has the rule).
    raw.prepare('INSERT INTO schema_version (version) VALUES (99)').run();
    raw.prepare('UPDATE schema_compat SET version = 99').run();
    raw.close();
    expect(() => new SqliteReadingLog(file)).toThrow(expect.objectContaining({ code: 'FM_ERR_STORE_SCHEMA' }));
  });

  it('refuses an unopenable path with FM_ERR_STORE_OPEN', () => {
    expect(() => new SqliteReadingLog('/nonexistent-dir/x/gateway.db')).toThrow(expect.objectContaining({ code: 'FM_ERR_STORE_OPEN' }));
  });
});
