import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeSenml, type Reading } from '@fieldmesh/device-sdk';

/**
 * The gateway as a child process, killed with SIGKILL at random moments while a device
 * publishes SenML packs at QoS 1 and resends what was not acknowledged (as a real device does).
 * Claim under test: no reading whose PUBACK the device received is lost, none stored twice.
 * 10 kills by default; FM_CHAOS=1 runs 100.
 */
const ROUNDS = process.env.FM_CHAOS === '1' ? 100 : 10;
const PER_PACK = 5;
const WINDOW = 20;
const BIN = resolve(import.meta.dirname, '../../../gateway/bin/fieldmesh.js');
const T = Date.UTC(2026, 0, 1);

const dir = mkdtempSync(join(tmpdir(), 'fm-kill9-'));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function startGateway(config: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [BIN, 'gateway', '--config', config, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((res, rej) => {
    let out = '';
    let err = '';
    const deadline = setTimeout(() => rej(new Error(`gateway did not start in time: ${err.slice(-2000)}`)), 60_000);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^broker: mqtt:\/\/[^:]+:(\d+)$/m.exec(out);
      if (m) {
        clearTimeout(deadline);
        res({ child, port: Number(m[1]) });
      }
    });
    child.once('exit', (code) => rej(new Error(`gateway exited with ${code}: ${err.slice(-2000)}`)));
  });
}

function pack(seq: number): string {
  const readings: Reading[] = Array.from({ length: PER_PACK }, (_, i) => ({ series: `chaos1/s${i}`, ts: T + seq * 1000 + i, value: seq * 10 + i }));
  return encodeSenml(readings, { deviceSeq: seq });
}

/**
 * Publishes `todo` (resends first) with a bounded in-flight window until `stop()` or the
 * connection dies; `acked` collects every fm_seq whose PUBACK arrived.
 */
function device(port: number, todo: number[], acked: Set<number>, nextSeq: { n: number }): { client: MqttClient; done: Promise<void> } {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'chaos1', reconnectPeriod: 0, connectTimeout: 30_000 });
  const done = new Promise<void>((res) => {
    let inFlight = 0;
    let dead = false;
    const pump = () => {
      while (!dead && inFlight < WINDOW) {
        const seq = todo.length > 0 ? todo.shift()! : nextSeq.n++;
        inFlight++;
        client.publish('fm/d/chaos1/senml', pack(seq), { qos: 1 }, (err) => {
          inFlight--;
          if (err) todo.push(seq);
          else acked.add(seq);
          if (!dead) pump();
        });
        if (!client.connected) break;
      }
    };
    client.once('connect', pump);
    client.once('close', () => {
      dead = true;
      res();
    });
    client.on('error', () => {});
  });
  return { client, done };
}

describe('gateway killed with SIGKILL during ingest', () => {
  it(`loses no acknowledged reading and stores none twice over ${ROUNDS} kills`, async () => {
    const config = join(dir, 'gw.yaml');
    const gatewayYaml = (commitThread: boolean) =>
      `id: chaos\ndataDir: ${join(dir, 'data')}\nbroker: { port: 0, host: 127.0.0.1, auth: none }\nhttp: { port: 0 }\ningest: { commitThread: ${commitThread} }\n`;
    writeFileSync(config, gatewayYaml(false));
    const acked = new Set<number>();
    const nextSeq = { n: 0 };
    let unacked: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Every other start commits on the worker thread: both commit paths face the kills.
      writeFileSync(config, gatewayYaml(round % 2 === 1));
      const { child, port } = await startGateway(config);
      const sent = new Set<number>();
      const todo = [...unacked];
      const before = nextSeq.n;
      const dev = device(port, todo, acked, nextSeq);
      // Kill at a random moment, while packs are in flight.
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      await dev.done;
      dev.client.end(true);
      for (const s of unacked) sent.add(s);
      for (let s = before; s < nextSeq.n; s++) sent.add(s);
      unacked = [...sent].filter((s) => !acked.has(s));
    }
    // Last start: resend everything unacknowledged, then stop cleanly.
    const { child, port } = await startGateway(config);
    const todo = [...unacked];
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'chaos1', reconnectPeriod: 0 });
    await new Promise<void>((res, rej) => {
      client.once('connect', () => res());
      client.once('error', rej);
    });
    await Promise.all(todo.map((seq) => new Promise<void>((res, rej) => client.publish('fm/d/chaos1/senml', pack(seq), { qos: 1 }, (e) => (e ? rej(e) : (acked.add(seq), res()))))));
    client.end(true);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;

    const db = new Database(join(dir, 'data', 'gateway.db'), { readonly: true });
    const rows = db.prepare('SELECT value, count(*) AS n FROM readings GROUP BY value').all() as Array<{ value: number; n: number }>;
    db.close();
    const counts = new Map(rows.map((r) => [r.value, r.n]));
    const twice = rows.filter((r) => r.n > 1);
    expect(twice, 'readings stored twice').toEqual([]);
    const lost: number[] = [];
    for (const seq of acked) for (let i = 0; i < PER_PACK; i++) if (counts.get(seq * 10 + i) !== 1) lost.push(seq * 10 + i);
    expect(lost, 'acknowledged readings lost').toEqual([]);
    // Every pack the device ever sent was finally acknowledged and is stored exactly once.
    expect(acked.size).toBe(nextSeq.n);
    expect(rows.length).toBe(nextSeq.n * PER_PACK);
    expect(acked.size).toBeGreaterThan(ROUNDS); // the kills hit a busy gateway, not an idle one
  }, 600_000);
});
