import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock, type Reading } from '@fieldmesh/device-sdk';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import { Ingest, type CommittedBatch } from '#gateway/ingest/ingest';
import { FileCredentialStore, MemoryCredentialStore, type CredentialStore } from '#gateway/ingest/credentials';
import { FixedHeaderScanner } from '@fieldmesh/protocol';
import { parseBareValue } from '#gateway/ingest/topic';

const T = Date.UTC(2026, 0, 1);
const r = (sensor: string, value: Reading['value'] = 1): Reading => ({ series: `d1/${sensor}`, ts: T, value });

describe('Ingest group commit (in-memory log, manual clock)', () => {
  it('holds submissions until the commit interval, then commits them in one transaction and notifies', async () => {
    const clock = new ManualClock();
    const log = new MemoryReadingLog();
    const ingest = new Ingest(log, { commitIntervalMs: 5, maxBatchReadings: 100, clock });
    const batches: CommittedBatch[] = [];
    ingest.onCommitted((b) => batches.push(b));
    let done = 0;
    const a = ingest.submit('d1', [r('a'), r('b')]).then(() => done++);
    const b = ingest.submit('d1', [r('c')]).then(() => done++);
    await Promise.resolve();
    expect(done).toBe(0);
    expect(log.lastSeq()).toBe(0);
    clock.advance(5);
    await Promise.all([a, b]);
    expect(done).toBe(2);
    expect(batches).toEqual([{ firstSeq: 1, lastSeq: 3, readings: [r('a'), r('b'), r('c')] }]);
    expect(ingest.stats.commits).toBe(1);
    expect(ingest.stats.ingested).toBe(3);
  });

  it('commits at once when the batch is full', async () => {
    const clock = new ManualClock();
    const log = new MemoryReadingLog();
    const ingest = new Ingest(log, { commitIntervalMs: 1000, maxBatchReadings: 3, clock });
    await ingest.submit('d1', [r('a'), r('b'), r('c')]);
    expect(log.lastSeq()).toBe(3);
  });

  it('rejects every submission of a failed commit with store_failed and acknowledges none', async () => {
    const clock = new ManualClock();
    const log = new MemoryReadingLog();
    log.append = () => {
      throw new Error('disk I/O error');
    };
    const ingest = new Ingest(log, { commitIntervalMs: 1, maxBatchReadings: 100, clock });
    const p = ingest.submit('d1', [r('a')], 1);
    clock.advance(1);
    await expect(p).rejects.toMatchObject({ reason: 'store_failed', code: 'FM_ERR_INGEST_STORE' });
    expect(ingest.stats.rejected.get('store_failed')).toBe(1);
  });

  it.each([
    ['d1', [{ series: 'd2/a', ts: T, value: 1 }], 'bad_topic'],
    ['d1', [{ series: 'd1/a b', ts: T, value: 1 }], 'bad_topic'],
    ['bad id', [r('a')], 'bad_topic'],
    ['d1', [{ series: 'd1/a', ts: T, value: Number.NaN }], 'bad_value'],
    ['d1', [{ series: 'd1/a', ts: T + 0.5, value: 1 }], 'bad_value'],
    ['d1', [{ series: 'd1/a', ts: T, value: 'x'.repeat(2000) }], 'bad_value'],
  ])('refuses hostile input from any source (%s, %j) as %s', async (device, readings, reason) => {
    const ingest = new Ingest(new MemoryReadingLog(), { commitIntervalMs: 0, maxBatchReadings: 100 });
    await expect(ingest.submit(device, readings as Reading[])).rejects.toMatchObject({ reason });
  });
});

describe('FixedHeaderScanner', () => {
  it('accepts packets split at every byte boundary and catches an oversized one mid-stream', () => {
    const pub = Buffer.from([0x30, 0x05, 0x00, 0x01, 0x61, 0x31, 0x32]);
    const big = Buffer.from([0x30, 0x80, 0x80, 0x01]); // 16,384 bytes
    const stream = Buffer.concat([pub, pub, big]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const s = new FixedHeaderScanner(1000);
      const first = s.scan(stream.subarray(0, cut));
      const second = first ?? s.scan(stream.subarray(cut));
      expect(second).toMatch(/exceeds 1000/);
    }
    const ok = new FixedHeaderScanner(1000);
    for (const b of Buffer.concat([pub, pub, pub])) expect(ok.scan(Buffer.from([b]))).toBeNull();
  });
});

describe('bare values', () => {
  it.each([
    ['21.5', 21.5],
    ['-3', -3],
    ['true', true],
    ['false', false],
    ['"open"', 'open'],
  ])('%s → %j', (text, value) => {
    expect(parseBareValue(Buffer.from(text))).toBe(value);
  });
  it.each(['21.5C', '', 'null', '[1]', '{"v":1}', '1e999'])('refuses %j', (text) => {
    expect(() => parseBareValue(Buffer.from(text))).toThrow(expect.objectContaining({ reason: 'bad_value' }));
  });
});

const credDir = mkdtempSync(join(tmpdir(), 'fm-cred-contract-'));
afterAll(() => rmSync(credDir, { recursive: true, force: true }));
let credFiles = 0;

describe.each([
  ['FileCredentialStore', (): CredentialStore => new FileCredentialStore(join(credDir, `c${credFiles++}.json`))],
  ['MemoryCredentialStore', (): CredentialStore => new MemoryCredentialStore()],
])('CredentialStore contract: %s', (_name, make) => {
  it('creates each device once, verifies only its password, and rotates', async () => {
    const store = make();
    const [a] = await store.ensure(['d1']);
    expect(store.has('d1')).toBe(true);
    expect(await store.ensure(['d1'])).toEqual([]);
    expect(await store.verify('d1', Buffer.from(a!.password))).toBe(true);
    expect(await store.verify('d1', Buffer.from(a!.password + 'x'))).toBe(false);
    expect(await store.verify('d2', Buffer.from(a!.password))).toBe(false);
    const b = await store.rotate('d1');
    expect(b).not.toBe(a!.password);
    expect(await store.verify('d1', Buffer.from(a!.password))).toBe(false);
    expect(await store.verify('d1', Buffer.from(b))).toBe(true);
  });
});

describe('FileCredentialStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-cred-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates passwords once, keeps only salted hashes (mode 0600), and verifies after reload', async () => {
    const file = join(dir, 'devices.json');
    const a = new FileCredentialStore(file);
    const created = await a.ensure(['d1', 'd2']);
    expect(created.map((c) => c.device)).toEqual(['d1', 'd2']);
    expect(await a.ensure(['d1', 'd2'])).toEqual([]);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(created[0]!.password);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const b = new FileCredentialStore(file);
    expect(await b.verify('d1', Buffer.from(created[0]!.password))).toBe(true);
    expect(await b.verify('d1', Buffer.from(created[1]!.password))).toBe(false);
    expect(await b.verify('__proto__', Buffer.from('x'))).toBe(false);
  });

  it('refuses a corrupt file with FM_ERR_BROKER_CREDENTIALS', async () => {
    const file = join(dir, 'bad.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, '{nope');
    expect(() => new FileCredentialStore(file)).toThrow(expect.objectContaining({ code: 'FM_ERR_BROKER_CREDENTIALS' }));
  });
});

describe('RejectLog', () => {
  it('logs once per source per interval, then reports how many it suppressed', async () => {
    const { RejectLog } = await import('#gateway/ingest/reject-log');
    const lines: Array<Record<string, unknown>> = [];
    const logger = {
      debug() {},
      info() {},
      warn(obj: object) {
        lines.push(obj as Record<string, unknown>);
      },
      error() {},
      child() {
        return logger;
      },
    };
    const clock = new ManualClock();
    const log = new RejectLog(logger, clock, 1000, 2);
    for (let i = 0; i < 5; i++) log.note('device:a', { i }, 'refused');
    log.note('device:b', {}, 'refused');
    expect(lines.map((l) => l.source)).toEqual(['device:a', 'device:b']);
    clock.advance(1000);
    log.note('device:a', {}, 'refused');
    expect(lines[2]).toMatchObject({ source: 'device:a', suppressedSinceLast: 4 });
    // The map is bounded: a third source evicts the oldest instead of growing.
    log.note('device:c', {}, 'refused');
    log.note('device:b', {}, 'refused');
    expect(lines.map((l) => l.source)).toEqual(['device:a', 'device:b', 'device:a', 'device:c', 'device:b']);
  });
});
