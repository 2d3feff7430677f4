import { chmodSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect as mqttConnect } from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../cloud-bridge/cloud-fixture.js';
import { FieldmeshProcess } from '../e2e/fieldmesh-process.js';
import { CHAOS, MiB, sampleRss, until } from './attack-fixture.js';

/**
 * Hostile config files and a hostile reading time, against real `fieldmesh gateway` processes:
 * a huge config, a dataDir that is a file, a config with secrets readable by others, and a
 * SenML time the uplink cannot carry.
 */
describe('gateway config and ingest edges (real processes)', () => {
  const tmp = tempDir('fm-sec-cfg-');
  const procs: FieldmeshProcess[] = [];
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    tmp.cleanup();
  });

  const base = (name: string) => ({ id: 'gw-c', dataDir: join(tmp.dir, name), broker: { port: 0, host: '127.0.0.1', auth: 'none' }, http: { port: 0, host: '127.0.0.1' }, mesh: { port: 0, bind: '127.0.0.1', mdns: false } });

  async function runToExit(file: string): Promise<{ code: number | null; stderr: string; peakRss: number }> {
    const p = new FieldmeshProcess(['gateway', '--config', file, '--log-level', 'warn']);
    procs.push(p);
    const rss = sampleRss(p.child.pid!);
    const [code] = (await once(p.child, 'exit')) as [number | null];
    return { code, stderr: p.stderrTail, peakRss: rss.stop().peak };
  }

  it(`a config file of ${CHAOS ? 50 : 8} MB is refused by size before it is parsed`, async () => {
    const file = join(tmp.dir, 'huge.yaml');
    // A valid-looking YAML list, so only the size cap can stop it.
    writeFileSync(file, `id: gw-c\nrules:\n${'  - { name: x, series: a/b, above: 1 }\n'.repeat(((CHAOS ? 50 : 8) * MiB) / 40)}`);
    const r = await runToExit(file);
    console.log(`huge config: exit ${r.code}, peak RSS ${(r.peakRss / MiB).toFixed(0)} MiB`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/FM_ERR_CONFIG_TOO_LARGE/);
    expect(r.peakRss).toBeLessThan(256 * MiB);
  }, 60_000);

  it('a dataDir that is a file is a config error naming dataDir and the fix', async () => {
    const blocker = join(tmp.dir, 'not-a-dir');
    writeFileSync(blocker, 'x');
    const file = join(tmp.dir, 'file-datadir.yaml');
    writeFileSync(file, stringify({ ...base('x'), dataDir: blocker }), { mode: 0o600 });
    const r = await runToExit(file);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/dataDir: .*not-a-dir: it (\(or a parent\) )?is a file/);
    expect(r.stderr).toMatch(/FM_ERR_CONFIG_DATA_DIR/);
    expect(r.stderr).not.toMatch(/EEXIST|ENOTDIR/);
  }, 60_000);

  it('a config holding secrets that others can read gets a warning at start; a 0600 one does not', async () => {
    const cfg = { ...base('perm'), mesh: { ...base('perm').mesh, key: randomBytes(32).toString('base64') } };
    const open = join(tmp.dir, 'open.yaml');
    writeFileSync(open, stringify(cfg));
    chmodSync(open, 0o644);
    const a = new FieldmeshProcess(['gateway', '--config', open, '--log-level', 'warn']);
    procs.push(a);
    await a.waitForLine(/^http: /m);
    await until(() => /readable by other users/.test(a.stderrTail), 'the warning');
    expect(a.stderrTail).toMatch(/"keys":\["mesh.key"\]/);
    await a.kill('SIGTERM');

    const closed = join(tmp.dir, 'closed.yaml');
    writeFileSync(closed, stringify({ ...cfg, dataDir: join(tmp.dir, 'perm2') }), { mode: 0o600 });
    const b = new FieldmeshProcess(['gateway', '--config', closed, '--log-level', 'warn']);
    procs.push(b);
    await b.waitForLine(/^http: /m);
    expect(b.stderrTail).not.toMatch(/readable by other users/);
    await b.kill('SIGTERM');
  }, 60_000);

  it('a reading time the uplink cannot carry (bt 4102444800000 s) is refused at ingest, counted, not stored', async () => {
    const file = join(tmp.dir, 'ingest.yaml');
    writeFileSync(file, stringify(base('ingest')), { mode: 0o600 });
    const gw = new FieldmeshProcess(['gateway', '--config', file, '--log-level', 'warn']);
    procs.push(gw);
    const httpPort = Number((await gw.waitForLine(/^http: http:\/\/[^:]+:(\d+)/m))[1]);
    const brokerPort = Number((await gw.waitForLine(/^broker: mqtt:\/\/[^:]+:(\d+)/m))[1]);
    const metrics = async () => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const dev = mqttConnect(`mqtt://127.0.0.1:${brokerPort}`, { clientId: 'dev1', reconnectPeriod: 0 });
    await new Promise<void>((r, j) => (dev.once('connect', () => r()), dev.once('error', j)));
    await dev.publishAsync('fm/d/dev1/senml', JSON.stringify([{ bn: 'dev1/', n: 'temp', v: 21 }]), { qos: 1 });
    const n = CHAOS ? 100 : 5;
    for (let i = 0; i < n; i++) await dev.publishAsync('fm/d/dev1/senml', JSON.stringify([{ bn: 'dev1/', bt: 4102444800000, n: 'temp', v: 22 }]), { qos: 1 });
    dev.end(true);
    await until(async () => /^fieldmesh_ingest_rejected_total\{reason="bad_time"\} (\d+)$/m.exec(await metrics())?.[1] === String(n), 'far-future times counted');
    expect(await metrics()).toMatch(/^fieldmesh_log_last_seq 1$/m);
  }, 60_000);
});
