import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as mqttConnect } from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, tempDir } from '../cloud-bridge/cloud-fixture.js';
import { FieldmeshProcess } from '../e2e/fieldmesh-process.js';
import { alive, CHAOS, MiB, sampleRss, until } from './attack-fixture.js';

/**
 * The relay TCP port as a stranger without the cluster key would try it: connections that
 * never say hello, and frames announcing 4 MiB - 1 before any handshake. Against a real
 * `fieldmesh gateway` process whose relay listens (mesh key set).
 */

/** RSS growth allowed: before the hello a connection may hold one 4 KiB frame. */
const RSS_BOUND = 32 * MiB;
/** The relay's default connection cap (relay-server.ts). */
const MAX_CONNECTIONS = 64;

function refusedOf(metrics: string, reason: string): number {
  const m = new RegExp(`^fieldmesh_relay_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(metrics);
  return m ? Number(m[1]) : Number.NaN;
}

describe('relay port under attack (real gateway process)', () => {
  const tmp = tempDir('fm-sec-relay-');
  let gw: FieldmeshProcess;
  let relayPort = 0;
  let httpPort = 0;
  const metrics = async () => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const lastSeq = async () => Number(/^fieldmesh_log_last_seq (\d+)$/m.exec(await metrics())?.[1]);

  beforeAll(async () => {
    relayPort = await freePort();
    const yaml = join(tmp.dir, 'gateway.yaml');
    writeFileSync(
      yaml,
      stringify({
        id: 'gw-r',
        dataDir: join(tmp.dir, 'data'),
        broker: { port: 0, host: '127.0.0.1', auth: 'none' },
        http: { port: 0, host: '127.0.0.1' },
        mesh: { port: 0, bind: '127.0.0.1', mdns: false, key: randomBytes(32).toString('base64') },
        relay: { port: relayPort },
      }),
      { mode: 0o600 },
    );
    gw = new FieldmeshProcess(['gateway', '--config', yaml, '--log-level', 'warn']);
    httpPort = Number((await gw.waitForLine(/^http: http:\/\/[^:]+:(\d+)/m))[1]);
    const brokerPort = Number((await gw.waitForLine(/^broker: mqtt:\/\/[^:]+:(\d+)/m))[1]);
    const dev = mqttConnect(`mqtt://127.0.0.1:${brokerPort}`, { clientId: 'dev1', reconnectPeriod: 0 });
    await new Promise<void>((r, j) => (dev.once('connect', () => r()), dev.once('error', j)));
    for (let i = 0; i < 10; i++) await dev.publishAsync('fm/d/dev1/temp', String(20 + i), { qos: 1 });
    dev.end(true);
    await until(async () => (await lastSeq()) === 10, 'ten readings committed');
  }, 60_000);

  afterAll(async () => {
    expect(alive(gw.child.pid!)).toBe(true);
    // Nothing stored was lost: the log still ends at seq 10.
    expect(await lastSeq()).toBe(10);
    await gw.kill('SIGTERM');
    tmp.cleanup();
  });

  it('binds the mesh address, not every interface', async () => {
    // Listening on 127.0.0.1 only: the port answers there…
    const s = tcpConnect(relayPort, '127.0.0.1');
    await new Promise<void>((r, j) => (s.once('connect', () => r()), s.once('error', j)));
    s.destroy();
    // …and the kernel's table lists it bound to 127.0.0.1 (hex 0100007F), not 0.0.0.0.
    const hexPort = relayPort.toString(16).toUpperCase().padStart(4, '0');
    const listening = readFileSync('/proc/net/tcp', 'utf8').split('\n').filter((l) => / 0A /.test(l) && l.includes(`:${hexPort} `));
    expect(listening.length).toBeGreaterThan(0);
    expect(listening.every((l) => l.trim().split(/\s+/)[1] === `0100007F:${hexPort}`)).toBe(true);
  });

  it(`keyless frames of 4 MiB - 1 are cut at the header, idle sockets at the hello deadline, past ${MAX_CONNECTIONS} refused (RSS growth < ${RSS_BOUND / MiB} MiB)`, async () => {
    const big = CHAOS ? 40 : 20;
    const idle = CHAOS ? MAX_CONNECTIONS + 50 : MAX_CONNECTIONS + 6;
    const before = await metrics();
    const rss = sampleRss(gw.child.pid!);
    const open = async (): Promise<Socket> => {
      const s = tcpConnect(relayPort, '127.0.0.1');
      s.on('error', () => {});
      // Read (and drop) the relay's hello, so the server's close is seen.
      s.resume();
      await new Promise<void>((r) => (s.once('connect', () => r()), s.once('close', () => r())));
      return s;
    };
    const closed = (s: Socket) => s.destroyed || s.closed || s.readableEnded;
    // Idle sockets first, past the cap; then, once they are gone, the large frames.
    const idlers = await Promise.all(Array.from({ length: idle }, open));
    await until(() => idlers.every(closed), 'idle connections closed at the hello deadline', 20_000);
    const senders = await Promise.all(Array.from({ length: big }, open));
    const chunk = Buffer.alloc(64 * 1024);
    await Promise.all(
      senders.map(async (s) => {
        const head = Buffer.alloc(4);
        head.writeUInt32BE(4 * MiB - 1, 0);
        s.write(head);
        for (let sent = 0; sent < 4 * MiB - 1 && !s.destroyed && !s.closed; sent += chunk.length) {
          if (!s.write(chunk)) await new Promise((r) => (s.once('drain', r), s.once('close', r)));
        }
      }),
    );
    const all = [...idlers, ...senders];
    await until(() => all.every(closed), 'every attacking connection closed', 20_000);
    const { before: rssBefore, peak } = rss.stop();
    for (const s of all) s.destroy();
    const after = await metrics();
    const delta = (reason: string) => refusedOf(after, reason) - refusedOf(before, reason);
    console.log(
      `relay port: ${idle} idle + ${big} × 4 MiB frames; refused preauth_frame_too_large ${delta('preauth_frame_too_large')}, hello_timeout ${delta('hello_timeout')}, too_many_connections ${delta('too_many_connections')}; RSS ${(rssBefore / MiB).toFixed(0)} → ${(peak / MiB).toFixed(0)} MiB`,
    );
    expect(alive(gw.child.pid!)).toBe(true);
    expect(peak - rssBefore).toBeLessThan(RSS_BOUND);
    expect(delta('too_many_connections')).toBe(idle - MAX_CONNECTIONS);
    expect(delta('hello_timeout')).toBe(MAX_CONNECTIONS);
    expect(delta('preauth_frame_too_large')).toBe(big);
    expect(delta('hello_timeout') + delta('preauth_frame_too_large') + delta('too_many_connections')).toBe(idle + big);
  }, 60_000);
});
