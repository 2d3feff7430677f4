import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '#device-sdk/clock';
import { decodePayload, encodeMessage, packCompound } from '#gateway/mesh/codec';
import { KeyRing } from '#gateway/mesh/keyring';
import type { Message } from '#gateway/mesh/messages';
import { systemRandom } from '#gateway/mesh/random';
import { Seal } from '#gateway/mesh/seal';
import { tempDir } from '../cloud-bridge/cloud-fixture.js';
import { FieldmeshProcess } from '../e2e/fieldmesh-process.js';
import { alive, until } from './attack-fixture.js';

/**
 * A peer (or a looped network) that sends a gateway's own mesh datagrams back to it, against a
 * real `fieldmesh gateway` process over real UDP. The test owns the gateway's only seed: a UDP
 * socket that captures what the gateway sends it (push-pull joins, repeated while the gateway is
 * alone), then returns those exact datagrams to the gateway's mesh port, again later, and altered.
 * The gateway must refuse every one, count it (`fieldmesh_mesh_dropped_total{reason=...}`), never
 * answer it, keep its membership view as it was, and stay up.
 */
describe('mesh: own datagrams reflected back to a real gateway (UDP)', () => {
  const tmp = tempDir('fm-sec-mesh-');
  const key = randomBytes(32).toString('base64');
  let seed: Socket;
  let reflector: Socket;
  const captured: Array<{ packet: Buffer; from: RemoteInfo; at: number }> = [];
  const toReflector: Buffer[] = [];
  let gw: FieldmeshProcess;
  let http = '';
  let meshPort = 0;

  const bindUdp = async (onMessage: (m: Buffer, r: RemoteInfo) => void) => {
    const s = createSocket('udp4');
    s.on('message', onMessage);
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    return s;
  };
  // The test holds the cluster key, so it can read what the gateway sends (a fresh seal each
  // time: the same datagram is read more than once, which one seal would take as a replay).
  const open = (packet: Buffer): Message[] => {
    const r = new Seal({ keyring: new KeyRing([key]), label: 'fieldmesh', clock: systemClock, random: systemRandom, replayWindowMs: 0 }).open(packet);
    if (!r.ok) throw new Error(`the test cannot open a gateway datagram: ${r.reason}`);
    return decodePayload(r.payload);
  };
  const metric = async (re: RegExp): Promise<number> => {
    const text = await (await fetch(`${http}/metrics`)).text();
    const m = re.exec(text);
    if (!m) throw new Error(`no ${re} in /metrics`);
    return Number(m[1]);
  };
  const dropped = (reason: string) => metric(new RegExp(`^fieldmesh_mesh_dropped_total\\{reason="${reason}"\\} (\\d+)$`, 'm'));
  const members = async () => ((await (await fetch(`${http}/api/members`)).json()) as { self: string; members: Array<{ id: string; state: string; incarnation: number; self: boolean; address: string }> }).members;
  const sendTo = (s: Socket, packet: Buffer) => new Promise<void>((resolve, reject) => s.send(packet, meshPort, '127.0.0.1', (err) => (err ? reject(err) : resolve())));

  beforeAll(async () => {
    seed = await bindUdp((packet, from) => captured.push({ packet: Buffer.from(packet), from, at: Date.now() }));
    reflector = await bindUdp((packet) => toReflector.push(Buffer.from(packet)));
    const file = join(tmp.dir, 'gw.yaml');
    const config = {
      id: 'gw-self',
      dataDir: join(tmp.dir, 'data'),
      broker: { port: 0, host: '127.0.0.1', auth: 'none' },
      http: { port: 0, host: '127.0.0.1' },
      // Alone, a member retries its seeds every reconnectIntervalMs: 500 ms gives the test a
      // stream of the gateway's own datagrams without waiting the LAN preset's 10 s.
      mesh: { port: 0, bind: '127.0.0.1', mdns: false, key, seeds: [`127.0.0.1:${seed.address().port}`], preset: 'local', tuning: { reconnectIntervalMs: 500 } },
    };
    writeFileSync(file, stringify(config), { mode: 0o600 });
    gw = new FieldmeshProcess(['gateway', '--config', file, '--log-level', 'warn']);
    http = `http://127.0.0.1:${(await gw.waitForLine(/^http: http:\/\/127\.0\.0\.1:(\d+)\//m))[1]}`;
    await until(() => captured.length >= 3, 'three datagrams from the gateway to its seed', 20_000);
    meshPort = captured[0]!.from.port;
  }, 60_000);

  afterAll(async () => {
    await gw?.kill('SIGKILL');
    seed?.close();
    reflector?.close();
    tmp.cleanup();
  });

  it('the gateway contacts its seed at start and while alone: sealed push-pull joins from its mesh port', () => {
    expect(new Set(captured.map((c) => c.from.port))).toEqual(new Set([meshPort]));
    const first = open(captured[0]!.packet);
    expect(first).toEqual([expect.objectContaining({ type: 'push-pull', join: true, reply: false })]);
    const entries = (first[0] as Extract<Message, { type: 'push-pull' }>).entries;
    expect(entries.map((e) => [e.node, e.addr, e.state])).toEqual([['gw-self', `127.0.0.1:${meshPort}`, 'alive']]);
  });

  it('its own datagrams sent back (at once, later, from another address) are refused as reflected, counted, never answered; the view stays as it was', async () => {
    const viewBefore = await members();
    expect(viewBefore).toEqual([expect.objectContaining({ id: 'gw-self', self: true, state: 'alive' })]);
    const reflectedBefore = await dropped('reflected');
    const replayBefore = await dropped('replay');
    const packetsInBefore = await metric(/^fieldmesh_mesh_packets_in_total (\d+)$/m);
    const own = captured.map((c) => c.packet);

    // Straight back from the seed the gateway sent them to, then again a second later, then from
    // a socket the gateway never heard of.
    for (const p of own) await sendTo(seed, p);
    await until(async () => (await dropped('reflected')) === reflectedBefore + own.length, `${own.length} reflections counted`, 10_000);
    await new Promise((r) => setTimeout(r, 1000));
    for (const p of own) await sendTo(seed, p);
    for (const p of own) await sendTo(reflector, p);
    const total = 3 * own.length;
    await until(async () => (await dropped('reflected')) === reflectedBefore + total, `${total} reflections counted`, 10_000);

    expect(await metric(/^fieldmesh_mesh_packets_in_total (\d+)$/m)).toBe(packetsInBefore + total);
    // Refused before the replay window: the reflections take none of its room.
    expect(await dropped('replay')).toBe(replayBefore);
    expect(await dropped('auth')).toBe(0);
    // Not a member of itself twice, no refutation, no incarnation bump.
    const viewAfter = await members();
    expect(viewAfter).toEqual(viewBefore);
    expect(await metric(/^fieldmesh_mesh_members\{state="alive"\} (\d+)$/m)).toBe(1);
    expect(await metric(/^fieldmesh_mesh_refutations_total (\d+)$/m)).toBe(0);
    // Never answered: an accepted push-pull join would be answered with a push-pull reply, to
    // the seed or to the reflector. The seed keeps getting only the gateway's own joins.
    await new Promise((r) => setTimeout(r, 700));
    expect(toReflector).toEqual([]);
    for (const c of captured) expect(open(c.packet)).toEqual([expect.objectContaining({ type: 'push-pull', join: true, reply: false })]);
  }, 60_000);

  it("another member's datagram replayed is refused by the replay window: the first copy taken, every later one counted", async () => {
    // The test as a member of the cluster (it holds the key): an ack for no probe changes nothing.
    const peer = new Seal({ keyring: new KeyRing([key]), label: 'fieldmesh', clock: systemClock, random: systemRandom, replayWindowMs: 60_000 });
    const [payload] = packCompound([encodeMessage({ type: 'ack', seq: 424242 })]);
    const packet = peer.seal(payload!);
    const replayBefore = await dropped('replay');
    const packetsInBefore = await metric(/^fieldmesh_mesh_packets_in_total (\d+)$/m);
    await sendTo(reflector, packet);
    await until(async () => (await metric(/^fieldmesh_mesh_packets_in_total (\d+)$/m)) > packetsInBefore, 'the first copy received', 10_000);
    expect(await dropped('replay')).toBe(replayBefore);
    expect(await dropped('auth')).toBe(0);
    for (let i = 0; i < 3; i++) await sendTo(reflector, packet);
    await new Promise((r) => setTimeout(r, 1000));
    await sendTo(seed, packet);
    await until(async () => (await dropped('replay')) === replayBefore + 4, 'four replays counted', 10_000);
    expect(await members()).toEqual([expect.objectContaining({ id: 'gw-self', self: true, state: 'alive' })]);
    expect(toReflector).toEqual([]);
  }, 60_000);

  it('altered copies of its own datagrams are refused as forgeries (auth) or malformed, counted, and the gateway stays up', async () => {
    const own = captured[0]!.packet;
    const authBefore = await dropped('auth');
    const malformedBefore = await dropped('malformed');
    const versionBefore = await dropped('version');
    const reflectedBefore = await dropped('reflected');
    // Every byte after the envelope version flipped in turn (nonce: session and counter;
    // ciphertext; tag), a truncation, a padded copy, and an unknown envelope version.
    const forged: Buffer[] = [];
    for (let i = 1; i < own.length; i++) {
      const f = Buffer.from(own);
      f[i]! ^= 0x01;
      forged.push(f);
    }
    const truncated = own.subarray(0, 20);
    const padded = Buffer.concat([own, Buffer.alloc(16)]);
    const version = Buffer.from(own);
    version[0] = 9;
    for (const f of forged) await sendTo(reflector, f);
    await sendTo(reflector, truncated);
    await sendTo(reflector, padded);
    await sendTo(reflector, version);
    await until(async () => (await dropped('auth')) === authBefore + forged.length + 1, `${forged.length + 1} forgeries counted`, 10_000);
    await until(async () => (await dropped('malformed')) === malformedBefore + 1 && (await dropped('version')) === versionBefore + 1, 'truncated and wrong-version copies counted', 10_000);
    expect(await dropped('reflected')).toBe(reflectedBefore);

    expect(alive(gw.child.pid!)).toBe(true);
    expect(await members()).toEqual([expect.objectContaining({ id: 'gw-self', self: true, state: 'alive', incarnation: 0 })]);
    // Still contacting its seed as before.
    const n = captured.length;
    await until(() => captured.length > n, 'the gateway still sends to its seed', 10_000);
    expect(toReflector).toEqual([]);
  }, 60_000);
});
