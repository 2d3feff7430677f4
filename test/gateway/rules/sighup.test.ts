import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../../gateway/bin/fieldmesh.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'fm-sighup-'));
let child: ChildProcess | undefined;

afterAll(async () => {
  if (child && child.exitCode === null) {
    const gone = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }
  rmSync(dir, { recursive: true, force: true });
});

function config(rules: unknown[]): string {
  return JSON.stringify({ id: 'gw-hup', dataDir: join(dir, 'data'), broker: { port: 0, host: '127.0.0.1', auth: 'none' }, http: { port: 0, host: '127.0.0.1' }, rules });
}

async function rulesMetric(http: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  return Number(/^fieldmesh_rules (\d+)$/m.exec(text)?.[1]);
}

describe('fieldmesh gateway reloads rules on SIGHUP (real process)', () => {
  it('applies a changed rules section without a restart and refuses a broken one', async () => {
    const file = join(dir, 'gateway.yaml'); // JSON is YAML
    writeFileSync(file, config([{ id: 'a', kind: 'threshold', series: 'x/y', high: 1 }]));
    child = spawn(process.execPath, [bin, 'gateway', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const deadline = Date.now() + 45_000;
    while (!/^http: (\S+)$/m.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`gateway did not start: ${out} ${err.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const http = /^http: (\S+?)\/?$/m.exec(out)![1]!;
    expect(await rulesMetric(http)).toBe(1);

    writeFileSync(file, config([
      { id: 'a', kind: 'threshold', series: 'x/y', high: 2 },
      { id: 'b', kind: 'staleness', series: 'x/*', after: '1h' },
    ]));
    child.kill('SIGHUP');
    while ((await rulesMetric(http)) !== 2) {
      if (Date.now() > deadline) throw new Error('rules not reloaded');
      await new Promise((r) => setTimeout(r, 50));
    }

    writeFileSync(file, config([{ id: 'a', kind: 'threshold', series: 'x/y' }]));
    child.kill('SIGHUP');
    while (!err.includes('config reload refused')) {
      if (Date.now() > deadline) throw new Error(`no refusal logged: ${err.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(err).toContain('FM_ERR_RULE_NO_LIMIT');
    expect(await rulesMetric(http)).toBe(2);
    expect(child.exitCode).toBeNull();
  });
});
