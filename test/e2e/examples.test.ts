import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../cloud-bridge/cloud-fixture.js';
import { MOSQUITTO } from '../cloud-bridge/scale/mosquitto.js';
import { startPgCluster, type PgCluster } from '../cloud-bridge/scale/pg-cluster.js';
import { waitFor } from '../wait-for.js';

/**
 * Every config under examples/ started as it is, as real `fieldmesh` processes (and a real
 * Mosquitto and PostgreSQL for the scale-out one), with only the environment the example's
 * comments name: the files in the repository are the ones tested.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'gateway/bin/fieldmesh.js');
const EX = join(ROOT, 'examples');
const procs = new Set<ChildProcess>();
const cleanups: Array<() => void> = [];
afterAll(() => {
  for (const p of procs) p.kill('SIGKILL');
  for (const c of cleanups.reverse()) c();
});

function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function fieldmesh(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A long-running `fieldmesh` process; resolves with its stdout once `ready` matches it. */
async function start(args: string[], env: NodeJS.ProcessEnv, ready: RegExp, cwd = ROOT): Promise<string> {
  const p = spawn(process.execPath, [BIN, ...args, '--log-level', 'warn'], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.add(p);
  let out = '';
  let err = '';
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${args.join(' ')}: not ready in time\n${out}\n${err}`)), 60_000);
    p.stdout!.on('data', (d: Buffer) => ((out += d.toString()), ready.test(out) && (clearTimeout(timer), res())));
    p.once('exit', (c, s) => (clearTimeout(timer), rej(new Error(`${args.join(' ')} exited ${c ?? s}\n${out}\n${err}`))));
  });
  return out;
}

async function cloudGateways(httpPort: number, token: string): Promise<Array<{ id: string; online: boolean; readings: number }>> {
  const r = await fetch(`http://127.0.0.1:${httpPort}/api/gateways`, { headers: { authorization: `Bearer ${token}` } });
  return ((await r.json()) as { gateways: Array<{ id: string; online: boolean; readings: number }> }).gateways;
}

/** A device publishes one reading to a gateway, QoS 1 (PUBACK = committed). */
async function publish(port: number, device: string, password: string | undefined): Promise<void> {
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: device, username: device, ...(password ? { password } : {}), reconnectPeriod: 0 });
  await new Promise<void>((res, rej) => (c.once('connect', () => res()), c.once('error', rej)));
  await c.publishAsync(`fm/d/${device}/senml`, JSON.stringify([{ n: 'temp', u: 'Cel', v: 21.5 }]), { qos: 1 });
  await c.endAsync();
}

const pw = (out: string) => /^password: (\S+)$/m.exec(out)![1]!;
const signingKey = (out: string) => /^signing key: (\S+)$/m.exec(out)![1]!;

describe('examples/', () => {
  it('single-gateway: the gateway delivers a device reading to the cloud', async () => {
    const env: NodeJS.ProcessEnv = {
      FM_DATA_DIR: tmp('fm-ex1-'),
      FM_CLOUD_BROKER_PORT: String(await freePort()),
      FM_CLOUD_HTTP_PORT: String(await freePort()),
      FM_GW_BROKER_PORT: String(await freePort()),
      FM_GW_HTTP_PORT: String(await freePort()),
    };
    const cloudYaml = join(EX, 'single-gateway/cloud.yaml');
    const gwYaml = join(EX, 'single-gateway/gateway.yaml');
    const issued = (await fieldmesh(['cloud', 'add-gateway', 'gw-a', '--config', cloudYaml], env)).stdout;
    env.FM_UPLINK_PASSWORD = pw(issued);
    env.FM_UPLINK_SIGNING_KEY = signingKey(issued);
    // Without the password the gateway refuses to start, naming the key and the variable.
    const missing = await fieldmesh(['gateway', '--config', gwYaml], { ...env, FM_UPLINK_PASSWORD: '' });
    expect(missing.stderr).toMatch(/FM_ERR_CONFIG_ENV.*uplink\.password.*FM_UPLINK_PASSWORD is not set/s);
    const device = pw((await fieldmesh(['gateway', 'add-device', 'sensor-1', '--config', gwYaml], env)).stdout);
    const cloudOut = await start(['cloud', '--config', cloudYaml], env, /^live token: \S+$/m);
    const token = /^live token: (\S+)$/m.exec(cloudOut)![1]!;
    await start(['gateway', '--config', gwYaml], env, /^http: /m);
    await publish(Number(env.FM_GW_BROKER_PORT), 'sensor-1', device);
    await waitFor(async () => (await cloudGateways(Number(env.FM_CLOUD_HTTP_PORT), token)).some((g) => g.id === 'gw-a' && g.readings >= 1), 'the reading at the cloud', 45_000);
  });

  it('site-mesh: three gateways see each other alive and all deliver to the cloud', async () => {
    const env: NodeJS.ProcessEnv = { FM_DATA_DIR: tmp('fm-ex2-'), FM_MESH_KEY: Buffer.alloc(32, 9).toString('base64') };
    for (const k of ['FM_CLOUD_BROKER_PORT', 'FM_CLOUD_HTTP_PORT', 'FM_MESH_PORT_A', 'FM_MESH_PORT_B', 'FM_MESH_PORT_C'] as const) env[k] = String(await freePort());
    for (const g of ['A', 'B', 'C']) for (const k of ['BROKER', 'HTTP']) env[`FM_GW_${g}_${k}_PORT`] = String(await freePort());
    const cloudYaml = join(EX, 'site-mesh/cloud.yaml');
    for (const g of ['a', 'b', 'c']) {
      const issued = (await fieldmesh(['cloud', 'add-gateway', `gw-${g}`, '--config', cloudYaml], env)).stdout;
      env[`FM_UPLINK_PASSWORD_${g.toUpperCase()}`] = pw(issued);
      env[`FM_UPLINK_SIGNING_KEY_${g.toUpperCase()}`] = signingKey(issued);
    }
    const token = /^live token: (\S+)$/m.exec(await start(['cloud', '--config', cloudYaml], env, /^live token: \S+$/m))![1]!;
    await Promise.all(['a', 'b', 'c'].map((g) => start(['gateway', '--config', join(EX, `site-mesh/gw-${g}.yaml`)], env, /^http: /m)));
    await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${env.FM_GW_A_HTTP_PORT}/api/members`);
      const m = ((await r.json()) as { members: Array<{ id: string; state: string }> }).members;
      return m.filter((x) => x.state === 'alive').length === 3;
    }, 'three members alive at gw-a', 45_000);
    await waitFor(async () => (await cloudGateways(Number(env.FM_CLOUD_HTTP_PORT), token)).filter((g) => g.online).length === 3, 'three gateways online at the cloud', 45_000);
  });

  it('cloud-mosquitto-postgres: the bridge behind the real Mosquitto stores a gateway reading in PostgreSQL', async () => {
    if (!existsSync(MOSQUITTO)) {
      const msg = `\n\n*** ${MOSQUITTO} is missing: this example needs Debian's mosquitto (listed in .ci/apt-packages) ***\n`;
      console.error(msg);
      throw new Error(msg);
    }
    let pg: PgCluster | undefined;
    cleanups.push(() => pg?.stop());
    pg = await startPgCluster();
    const dir = tmp('fm-ex3-');
    const ex = join(EX, 'cloud-mosquitto-postgres');
    const env: NodeJS.ProcessEnv = { FM_DATA_DIR: dir, FM_BROKER_PASSWORD: 'bridge-secret', FM_UPLINK_PASSWORD: 'gw-a-secret', FM_PG_URL: pg.url, FM_CLOUD_HTTP_PORT: String(await freePort()), FM_GW_BROKER_PORT: String(await freePort()), FM_GW_HTTP_PORT: String(await freePort()) };
    // The example's mosquitto.conf and acl as they are, run from a scratch directory on a free port.
    const port = await freePort();
    env.FM_BROKER_URL = `mqtt://127.0.0.1:${port}`;
    writeFileSync(join(dir, 'mosquitto.conf'), readFileSync(join(ex, 'mosquitto.conf'), 'utf8').replace(/^listener 1883 /m, `listener ${port} `));
    writeFileSync(join(dir, 'acl'), readFileSync(join(ex, 'acl')));
    execFileSync('mosquitto_passwd', ['-c', '-b', join(dir, 'passwords'), 'fieldmesh-bridge', 'bridge-secret']);
    execFileSync('mosquitto_passwd', ['-b', join(dir, 'passwords'), 'gw-a', 'gw-a-secret']);
    // Started as root, mosquitto reads its files as the `mosquitto` user.
    chmodSync(dir, 0o755);
    for (const f of ['mosquitto.conf', 'acl', 'passwords']) chmodSync(join(dir, f), 0o644);
    const mq = spawn(MOSQUITTO, ['-c', 'mosquitto.conf'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    procs.add(mq);
    let mqErr = '';
    mq.stderr!.on('data', (d: Buffer) => (mqErr += d.toString()));
    await waitFor(
      () =>
        new Promise<boolean>((res) => {
          if (mq.exitCode !== null) throw new Error(`mosquitto exited: ${mqErr}`);
          const sock = createConnection(port, '127.0.0.1');
          sock.once('connect', () => (sock.destroy(), res(true)));
          sock.once('error', () => res(false));
        }),
      'mosquitto listening',
      20_000,
    );
    const cloudOut = await start(['cloud', '--config', join(ex, 'cloud.yaml')], env, /^live token: \S+$/m);
    const token = /^live token: (\S+)$/m.exec(cloudOut)![1]!;
    expect(cloudOut).toMatch(/cloud broker: mqtt:\/\/127\.0\.0\.1:\d+ \(external, share group fieldmesh\)/);
    const device = pw((await fieldmesh(['gateway', 'add-device', 'sensor-1', '--config', join(ex, 'gateway.yaml')], env)).stdout);
    await start(['gateway', '--config', join(ex, 'gateway.yaml')], env, /^http: /m);
    await publish(Number(env.FM_GW_BROKER_PORT), 'sensor-1', device);
    await waitFor(async () => (await cloudGateways(Number(env.FM_CLOUD_HTTP_PORT), token)).some((g) => g.id === 'gw-a' && g.readings >= 1), 'the reading in PostgreSQL', 60_000);
  });
});
