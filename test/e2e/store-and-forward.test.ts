import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, tempDir, waitFor } from '../cloud-bridge/cloud-fixture.js';
import { CountingDevice } from './counting-device.js';
import { FieldmeshProcess, fieldmeshBin } from './fieldmesh-process.js';

/** Kill cycles: a few by default, many with FM_CHAOS=1. */
const KILLS = process.env.FM_CHAOS === '1' ? 25 : 4;
const READINGS_PER_PACK = 10;

/**
 * One cloud process and one gateway process on fixed ports (so either can be killed and
 * restarted where the other expects it), and a counting device.
 */
async function startSystem(dir: string, cleanups: Array<() => Promise<void> | void>) {
  writeFileSync(join(dir, 'cloud.yaml'), 'broker: { port: 0, host: 127.0.0.1 }\nhttp: { port: 0, host: 127.0.0.1 }\ndataDir: ./cloud\n');
  // Credentials issued through the CLI, as an operator does.
  const add = spawnSync(process.execPath, [fieldmeshBin, 'cloud', 'add-gateway', 'gw-e2e', '--config', join(dir, 'cloud.yaml')], { encoding: 'utf8' });
  expect(add.status, add.stderr).toBe(0);
  const password = /password: (\S+)/.exec(add.stdout)![1]!;
  // The gateway signs its batches with the key add-gateway made; the cloud holds its public half.
  const signingKey = /signing key: (\S+)/.exec(add.stdout)![1]!;
  const cloudPort = await freePort();
  writeFileSync(join(dir, 'cloud.yaml'), `broker: { port: ${cloudPort}, host: 127.0.0.1 }\nhttp: { port: 0, host: 127.0.0.1 }\ndataDir: ./cloud\n`);
  const gwPort = await freePort();
  writeFileSync(
    join(dir, 'gateway.yaml'),
    [
      'id: gw-e2e',
      'dataDir: ./gw',
      `broker: { port: ${gwPort}, host: 127.0.0.1, auth: none }`,
      'http: { port: 0, host: 127.0.0.1 }',
      `uplink: { url: "mqtt://127.0.0.1:${cloudPort}", username: gw-e2e, password: "${password}", signingKey: "${signingKey}" }`,
      '',
    ].join('\n'),
  );
  const sys = {
    cloud: null as FieldmeshProcess | null,
    gateway: null as FieldmeshProcess | null,
    gatewayHttp: 0,
    device: new CountingDevice(gwPort, READINGS_PER_PACK),
    async startCloud() {
      sys.cloud = new FieldmeshProcess(['cloud', '--config', join(dir, 'cloud.yaml'), '--log-level', 'warn']);
      await sys.cloud.waitForLine(/cloud broker: mqtt:\/\/[^:]+:(\d+)/);
    },
    async startGateway() {
      sys.gateway = new FieldmeshProcess(['gateway', '--config', join(dir, 'gateway.yaml'), '--log-level', 'warn']);
      sys.gatewayHttp = Number((await sys.gateway.waitForLine(/http: http:\/\/[^:]+:(\d+)/))[1]);
    },
  };
  cleanups.push(() => sys.cloud?.kill('SIGKILL'));
  cleanups.push(() => sys.gateway?.kill('SIGKILL'));
  cleanups.push(() => sys.device.stop());
  await sys.startCloud();
  await sys.startGateway();
  sys.device.start();
  return sys;
}

/** Waits for the gateway to drain, then checks the cloud against what the device was told. */
async function expectExactlyOnce(dir: string, sys: Awaited<ReturnType<typeof startSystem>>, seed: number): Promise<void> {
  let status: { log: { lastSeq: number; ackWatermark: number } } | null = null;
  await waitFor(async () => {
    status = (await (await fetch(`http://127.0.0.1:${sys.gatewayHttp}/api/status`)).json()) as typeof status;
    return status!.log.lastSeq > 0 && status!.log.ackWatermark === status!.log.lastSeq;
  }, 'gateway backlog to drain', 120_000);

  const db = new Database(join(dir, 'cloud', 'cloud.sqlite'), { readonly: true });
  const counts = new Map<number, number>();
  for (const row of db.prepare('SELECT value, count(*) AS n FROM readings GROUP BY value').all() as Array<{ value: number; n: number }>) counts.set(row.value, row.n);
  const total = Number(db.prepare('SELECT count(*) FROM readings').pluck().get());
  db.close();

  const missing: number[] = [];
  for (const i of sys.device.acked) {
    for (let k = 0; k < READINGS_PER_PACK; k++) if (counts.get(i * READINGS_PER_PACK + k) !== 1) missing.push(i * READINGS_PER_PACK + k);
  }
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([v]) => v);
  expect({ seed, missing: missing.slice(0, 20), duplicated: duplicated.slice(0, 20) }).toEqual({ seed, missing: [], duplicated: [] });
  // Everything the gateway logged went up once; the device was told about no more than that.
  expect(total).toBe(status!.log.lastSeq);
  expect(sys.device.acked.size * READINGS_PER_PACK).toBeLessThanOrEqual(total);
}

function seededRandom(): { seed: number; random: () => number } {
  const seed = Number(process.env.FM_SEED ?? Date.now() % 100_000);
  let rnd = seed;
  return { seed, random: () => ((rnd = (rnd * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31) };
}

describe('end to end: device -> gateway process -> cloud bridge process', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it(`every PUBACKed reading is in the cloud exactly once across ${KILLS} SIGKILLs of the gateway`, { timeout: 600_000 }, async () => {
    const tmp = tempDir('fm-e2e-');
    cleanups.push(tmp.cleanup);
    const sys = await startSystem(tmp.dir, cleanups);
    const { seed, random } = seededRandom();
    for (let k = 0; k < KILLS; k++) {
      // A random moment while the device publishes and the uplink drains.
      const before = sys.device.acked.size;
      await waitFor(() => sys.device.acked.size >= before + 5, 'device progress', 60_000);
      await new Promise((r) => setTimeout(r, 100 + random() * 900));
      await sys.gateway!.kill('SIGKILL');
      await sys.startGateway();
    }
    const before = sys.device.acked.size;
    await waitFor(() => sys.device.acked.size >= before + 20, 'device progress after the last restart', 60_000);
    await sys.device.stop();
    await expectExactlyOnce(tmp.dir, sys, seed);
  });

  it(`the same holds across ${KILLS} SIGKILLs of the cloud bridge (commit done, ack maybe not)`, { timeout: 600_000 }, async () => {
    const tmp = tempDir('fm-e2e-');
    cleanups.push(tmp.cleanup);
    const sys = await startSystem(tmp.dir, cleanups);
    const { seed, random } = seededRandom();
    for (let k = 0; k < KILLS; k++) {
      const before = sys.device.acked.size;
      await waitFor(() => sys.device.acked.size >= before + 5, 'device progress', 60_000);
      await new Promise((r) => setTimeout(r, 100 + random() * 900));
      await sys.cloud!.kill('SIGKILL');
      // The gateway keeps taking readings while the cloud is down: store and forward.
      const during = sys.device.acked.size;
      await waitFor(() => sys.device.acked.size >= during + 3, 'ingest while the cloud is down', 60_000);
      await sys.startCloud();
    }
    await sys.device.stop();
    await expectExactlyOnce(tmp.dir, sys, seed);
  });
});
