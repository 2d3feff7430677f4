import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../cloud-fixture.js';
import { startBridgeProcess, type BridgeProcess } from '../scale/bridge-process.js';

const CLI = resolve(import.meta.dirname, '../../../gateway/bin/fieldmesh.js');

function run(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => execFile(process.execPath, [CLI, ...args], { cwd, timeout: 60_000 }, (err, stdout, stderr) => res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })));
}

/**
 * `fieldmesh cloud add-admin-token` against a running `fieldmesh cloud` process: the token is
 * printed once, only its hash lands in the file (0600), the running bridge takes it at once for
 * fleet writes, and the live token printed at the first start does not write.
 */
describe('fieldmesh cloud add-admin-token (real processes)', () => {
  const t = tempDir('fm-admin-token-');
  let bridge: BridgeProcess | undefined;
  afterAll(async () => {
    await bridge?.kill('SIGTERM');
    t.cleanup();
  });

  it('issues a token the running bridge takes for writes; a live token and a wrong one do not write', async () => {
    bridge = await startBridgeProcess(t.dir, { broker: { port: 0, host: '127.0.0.1', auth: 'credentials' } });
    const url = `http://127.0.0.1:${bridge.httpPort}/api/fleet/desired`;
    const put = (token: string) => fetch(url, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ target: { gateway: 'gw-a' } }) });
    expect((await put(bridge.liveToken!)).status).toBe(403);

    const usage = await run(['cloud', 'add-admin-token', 'ops'], t.dir);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--config FILE.*--data-dir DIR/s);
    const r = await run(['cloud', 'add-admin-token', 'ops', '--config', join(t.dir, 'cloud.yaml')], t.dir);
    expect(r.code, r.stderr).toBe(0);
    const token = /^admin token: ([A-Za-z0-9_-]{43})$/m.exec(r.stdout)?.[1];
    expect(token).toBeDefined();
    const file = join(t.dir, 'data', 'fleet-admin-tokens.json');
    expect(r.stdout).toContain(`file: ${file}`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).not.toContain(token!);

    const ok = await put(token!);
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect(await ok.json()).toMatchObject({ scope: 'gateway:gw-a', changed: ['gw-a'] });
    expect((await put(`${token!.slice(0, -1)}x`)).status).toBe(401);
    // The same name again replaces the token: the old one stops working.
    const again = await run(['cloud', 'add-admin-token', 'ops', '--data-dir', join(t.dir, 'data')], t.dir);
    expect(again.code, again.stderr).toBe(0);
    expect((await put(token!)).status).toBe(401);
    const bad = await run(['cloud', 'add-admin-token', '../x', '--data-dir', join(t.dir, 'data')], t.dir);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('FM_ERR_CLOUD_ADMIN_TOKENS');
  });
});
