import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { MemoryCloudStore } from '#cloud-bridge/store/memory-cloud-store';
import { SqliteCloudStore } from '#cloud-bridge/store/sqlite-cloud-store';
import { cloudStoreContract } from './cloud-store.contract.js';

cloudStoreContract('memory', async () => ({ store: new MemoryCloudStore(), cleanup: () => {} }));

cloudStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-cloud-store-'));
  const file = join(dir, 'cloud.sqlite');
  return { store: new SqliteCloudStore(file), reopen: async () => new SqliteCloudStore(file), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
});

it('sqlite store runs WAL with synchronous=FULL on every open', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-cloud-store-'));
  try {
    const file = join(dir, 'c.sqlite');
    await new SqliteCloudStore(file).close();
    const store = new SqliteCloudStore(file);
    // A second connection can read the mode; synchronous is per connection, so check it through the store's own handle.
    const db = (store as unknown as { db: Database.Database }).db;
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
