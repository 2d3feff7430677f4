import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLock } from '../../../gateway/src/store/data-dir-lock.js';
import { parseGatewayConfig } from '../../../gateway/src/config/gateway-config.js';
import { Gateway } from '../../../gateway/src/gateway.js';

describe('DataDirLock', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'fm-lock-'));
    dirs.push(d);
    return d;
  };

  it('refuses a second holder with a coded error naming the directory, and frees on release', () => {
    const d = dir();
    const first = DataDirLock.acquire(d);
    let err: unknown;
    try {
      DataDirLock.acquire(d);
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe('FM_ERR_STORE_LOCKED');
    expect((err as Error).message).toContain(d);
    expect((err as Error).message).toContain(String(process.pid));
    first.release();
    DataDirLock.acquire(d).release();
  });

  it('is freed by the kernel when the holding process is killed with SIGKILL (no stale lock)', async () => {
    const d = dir();
    const script = `
      const Database = require('better-sqlite3');
      const db = new Database(${JSON.stringify(join(d, 'gateway.lock'))});
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER); INSERT INTO holder VALUES (1)');
      console.log('held');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(child.stdout, 'data');
    expect(() => DataDirLock.acquire(d)).toThrow(/FM_ERR_STORE_LOCKED/);
    child.kill('SIGKILL');
    await once(child, 'exit');
    DataDirLock.acquire(d).release();
  });

  it('keeps a second gateway off a data directory that a running gateway uses', async () => {
    const d = dir();
    const config = (id: string) =>
      parseGatewayConfig({ id, dataDir: d, broker: { port: 0, host: '127.0.0.1', auth: 'none' }, http: { port: 0, host: '127.0.0.1' } });
    const first = new Gateway(config('gw-one'), { print: () => {} });
    await first.start();
    try {
      const second = new Gateway(config('gw-two'), { print: () => {} });
      await expect(second.start()).rejects.toMatchObject({ code: 'FM_ERR_STORE_LOCKED' });
    } finally {
      await first.stop();
    }
    const third = new Gateway(config('gw-one'), { print: () => {} });
    await third.start();
    await third.stop();
  });
});
