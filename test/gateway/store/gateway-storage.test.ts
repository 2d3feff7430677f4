import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { Gateway } from '#gateway/gateway';

const BIN = resolve(import.meta.dirname, '../../../gateway/bin/fieldmesh.js');
const T = Date.UTC(2026, 0, 1);
const dirs: string[] = [];
const gateways: Gateway[] = [];
afterEach(async () => {
  while (gateways.length) await gateways.pop()!.stop();
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function config(dataDir: string, storage: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return parseGatewayConfig({ id: 'gw-st', dataDir, broker: { port: 0, host: '127.0.0.1', auth: 'none' }, http: { port: 0, host: '127.0.0.1' }, storage, ...extra });
}

async function start(cfg: ReturnType<typeof config>): Promise<{ gw: Gateway; http: number }> {
  const gw = new Gateway(cfg, { print: () => {} });
  gateways.push(gw);
  const s = await gw.start();
  return { gw, http: s.httpPort };
}

function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((res) => execFile(process.execPath, [BIN, ...args], (err, stdout) => res({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout })));
}

describe('storage budget in the gateway', () => {
  it('reject-new: refusals counted per series in /api/status, /metrics and fieldmesh status; a config change keeps the whole buffer', { timeout: 120_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fm-gwst-'));
    dirs.push(dataDir);
    const { gw, http } = await start(config(dataDir, { budgetBytes: 256 * 1024, policy: 'reject-new', checkIntervalMs: 100 }));
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 400 && refused === 0; i++) {
      const pack = Array.from({ length: 200 }, (_, k) => ({ series: 'dev1/temp', ts: T + i * 200 + k, value: i * 200 + k }));
      try {
        await gw.ingest.submit('dev1', pack);
        accepted += pack.length;
      } catch {
        refused += pack.length;
      }
    }
    expect(refused).toBeGreaterThan(0);
    const status = (await (await fetch(`http://127.0.0.1:${http}/api/status`)).json()) as Record<string, any>;
    expect(status.storage.budget.admitting).toBe(false);
    expect(status.storage.budget.policy).toBe('reject-new');
    expect(status.storage.lost.refused).toBe(refused);
    expect(status.storage.losses).toEqual([{ series: 'dev1/temp', reason: 'refused', count: refused }]);
    expect(status.log.backlog.readings).toBe(accepted);
    expect(status.log.backlog.bytes).toBe(accepted * 24);
    const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    expect(metrics).toContain(`fieldmesh_readings_lost_total{reason="refused",series="dev1/temp"} ${refused}`);
    expect(metrics).toMatch(/fieldmesh_storage_admitting 0/);
    const out = await cli(['status', '--url', `http://127.0.0.1:${http}`]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('REFUSING new readings');
    expect(out.stdout).toContain(`lost      refused=${refused}`);
    // One row per series and reason, in aligned columns.
    expect(out.stdout).toMatch(new RegExp(`^ +dev1/temp +refused +${refused}$`, 'm'));
    const epoch = gw.store.epoch;
    await gw.stop();
    gateways.length = 0;

    // Restart with a changed config (other policy, bigger budget, other rollups): nothing wiped.
    const again = await start(config(dataDir, { budgetBytes: 64 * 1024 * 1024, policy: 'drop-oldest' }, { rollups: { minute: { retention: '1d' } }, ingest: { commitThread: true } }));
    expect(again.gw.store.epoch).toBe(epoch);
    expect(again.gw.store.readAfter(0, 1_000_000).length).toBe(accepted);
    const s2 = (await (await fetch(`http://127.0.0.1:${again.http}/api/status`)).json()) as Record<string, any>;
    expect(s2.storage.lost.refused).toBe(refused);
    expect(s2.storage.budget.admitting).toBe(true);
    await again.gw.ingest.submit('dev1', [{ series: 'dev1/temp', ts: T, value: -1 }]);
    expect(again.gw.store.lastSeq()).toBe(accepted + 1);
  });
});
