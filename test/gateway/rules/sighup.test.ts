import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../wait-for.js';

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
    const proc = spawn(process.execPath, [bin, 'gateway', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    await waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error(`gateway exited: ${out} ${err.slice(-2000)}`);
        return /^http: (\S+)$/m.test(out);
      },
      'the gateway to start',
      45_000,
      { everyMs: 50, detail: () => `${out} ${err.slice(-2000)}` },
    );
    const http = /^http: (\S+?)\/?$/m.exec(out)![1]!;
    expect(await rulesMetric(http)).toBe(1);

    writeFileSync(file, config([
      { id: 'a', kind: 'threshold', series: 'x/y', high: 2 },
      { id: 'b', kind: 'staleness', series: 'x/*', after: '1h' },
    ]));
    child.kill('SIGHUP');
    await waitFor(async () => (await rulesMetric(http)) === 2, 'the rules reloaded', 45_000, { everyMs: 50 });

    writeFileSync(file, config([{ id: 'a', kind: 'threshold', series: 'x/y' }]));
    child.kill('SIGHUP');
    await waitFor(() => err.includes('config reload refused'), 'the refusal logged', 45_000, { everyMs: 50, detail: () => err.slice(-2000) });
    expect(err).toContain('FM_ERR_RULE_NO_LIMIT');
    expect(await rulesMetric(http)).toBe(2);
    expect(child.exitCode).toBeNull();
  });
});
