import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createSocket } from 'node:dgram';
import { Mesh, type MemberView } from '#gateway/mesh/mesh';
import { meshSection } from '#gateway/mesh/config';
import { parseMeshConfig } from '#gateway/config/mesh';
import { parseAddress } from '#gateway/mesh/address';
import { waitFor } from '../../wait-for.js';

/** Real UDP on loopback, real clock: fast tuning so the test takes seconds, generous deadlines for a loaded 2-core box. */
const fast = { probeIntervalMs: 300, probeTimeoutMs: 100, gossipIntervalMs: 50, suspicionMult: 3, reconnectIntervalMs: 500 };

function section(key: string, seeds: string[] = [], extra: Record<string, unknown> = {}) {
  return meshSection(parseMeshConfig({ port: 0, bind: '127.0.0.1', mdns: false, seeds, key, preset: 'local', tuning: fast, ...extra }));
}

const state = (views: MemberView[], id: string) => views.find((m) => m.id === id)?.state;

describe('mesh over real UDP on loopback', () => {
  const meshes: Mesh[] = [];
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    await Promise.all(meshes.splice(0).map((m) => m.stop().catch(() => {})));
  });

  it('five members in one process join, see each other, gossip metadata, and mark a crashed one dead', async () => {
    const key = randomBytes(32).toString('base64');
    const first = new Mesh({ id: 'gw-0', section: section(key) });
    meshes.push(first);
    await first.start();
    for (let i = 1; i < 5; i++) {
      const m = new Mesh({ id: `gw-${i}`, section: section(key, [first.address]) });
      meshes.push(m);
      await m.start();
    }
    await waitFor(() => meshes.every((m) => m.members().filter((v) => v.state === 'alive').length === 5), 'all five alive everywhere');
    meshes[3]!.setLocalMeta({ role: 'gateway', version: '0.1.0', uplink: 'down', backlog: 77, oldestUnsentAgeS: 3, tags: {} });
    await waitFor(() => meshes.every((m) => m.members().find((v) => v.id === 'gw-3')?.meta?.backlog === 77), 'metadata everywhere');
    // Crash: the socket closes without a goodbye (as kill -9).
    const crashed = meshes.splice(2, 1)[0]!;
    await (crashed as unknown as { node: { stop(): Promise<void> } }).node.stop();
    await waitFor(() => meshes.every((m) => state(m.members(), 'gw-2') === 'dead'), 'gw-2 dead everywhere');
    const metrics = meshes[0]!.metrics();
    expect(metrics.probes).toBeGreaterThan(0);
    expect(metrics.bytesIn).toBeGreaterThan(0);
    expect(meshes[0]!.prometheus()).toMatch(/fieldmesh_mesh_deaths_total \d+/);
  });

  it('a graceful stop is seen as left, not dead', async () => {
    const key = randomBytes(32).toString('base64');
    const a = new Mesh({ id: 'a', section: section(key) });
    meshes.push(a);
    await a.start();
    const b = new Mesh({ id: 'b', section: section(key, [a.address]) });
    await b.start();
    await waitFor(() => state(a.members(), 'b') === 'alive', 'b joined');
    await b.stop();
    await waitFor(() => state(a.members(), 'b') === 'left', 'b left');
  });

  it('a seed given by host name is resolved and joined', async () => {
    const key = randomBytes(32).toString('base64');
    const a = new Mesh({ id: 'named-a', section: section(key) });
    meshes.push(a);
    await a.start();
    const b = new Mesh({ id: 'named-b', section: section(key, [`localhost:${parseAddress(a.address).port}`]) });
    meshes.push(b);
    await b.start();
    await waitFor(() => state(a.members(), 'named-b') === 'alive' && state(b.members(), 'named-a') === 'alive', 'joined through localhost');
    expect(() => section(key, ['not a seed'])).toThrow(/mesh\.seeds\[0\]/);
  });

  it('seeds of the other address family: an IPv6 socket reaches an IPv4 seed; an IPv6 seed for an IPv4 bind is refused at config', async () => {
    const key = randomBytes(32).toString('base64');
    const seed = createSocket('udp4');
    const got: string[] = [];
    seed.on('message', (_m, r) => got.push(r.address));
    await new Promise<void>((r) => seed.bind(0, '127.0.0.1', r));
    try {
      // Bound to "::" (both families), given the seed's plain IPv4 form: the join must leave.
      const a = new Mesh({ id: 'dual', section: section(key, [`127.0.0.1:${seed.address().port}`], { bind: '::' }) });
      meshes.push(a);
      await a.start();
      await waitFor(() => got.length > 0, 'the dual-stack member contacted its IPv4 seed');
      expect(got[0]).toBe('127.0.0.1');
    } finally {
      seed.close();
    }
    expect(() => section(key, ['[::1]:7946'])).toThrow(/mesh\.seeds\[0\]: \[::1\]:7946 is IPv6 but mesh\.bind 127\.0\.0\.1 is IPv4; .*"::"/);
    expect(() => section(key, ['[::1]:7946'], { bind: '::' })).not.toThrow();
  });

  it('drops and counts unencrypted, wrong-key and other-label packets; never mixes two meshes', async () => {
    const key = randomBytes(32).toString('base64');
    const a = new Mesh({ id: 'a', section: section(key, [], { label: 'site-a' }) });
    const b = new Mesh({ id: 'b', section: section(key, [], { label: 'site-b' }) });
    meshes.push(a, b);
    await a.start();
    await b.start();
    // Same key, different label: b tries to join a.
    (b as unknown as { node: { join(s: string[]): void } }).node.join([a.address]);
    const sock = createSocket('udp4');
    const { host, port } = parseAddress(a.address);
    for (let i = 0; i < 5; i++) sock.send(Buffer.from('plain text ping'), port, host);
    await waitFor(() => a.metrics().dropped.auth >= 1 && a.metrics().dropped.malformed + a.metrics().dropped.version >= 5, 'drops counted');
    sock.close();
    expect(a.members().map((m) => m.id)).toEqual(['a']);
    expect(b.members().map((m) => m.id)).toEqual(['b']);
  });

  it('members in separate processes: join, kill -9, restart with the same id on a new port', { timeout: 240_000 }, async () => {
    const key = randomBytes(32).toString('base64');
    const local = new Mesh({ id: 'hub', section: section(key) });
    meshes.push(local);
    await local.start();
    const script = fileURLToPath(new URL('./fixtures/mesh-child.ts', import.meta.url));
    const startChild = async (id: string): Promise<{ child: ChildProcess; address: string }> => {
      // node --import tsx, not the tsx wrapper: kill -9 must hit the member itself, not a parent shim.
      const child = spawn(process.execPath, ['--import', 'tsx', script, id, local.address, key, '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      const lines = createInterface({ input: child.stdout! });
      const address = await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${id} did not start`)), 30_000);
        lines.on('line', (l) => {
          if (l.startsWith('ready ')) {
            clearTimeout(t);
            resolve(l.slice(6));
          }
        });
        child.once('exit', (code) => reject(new Error(`${id} exited with ${code}`)));
      });
      return { child, address };
    };
    const kids = await Promise.all(['p1', 'p2', 'p3'].map(startChild));
    await waitFor(() => local.members().filter((m) => m.state === 'alive').length === 4, 'three child processes joined', 60_000);
    kids[1]!.child.kill('SIGKILL');
    await waitFor(() => state(local.members(), 'p2') === 'dead', 'p2 dead after kill -9', 60_000);
    const again = await startChild('p2');
    expect(again.address).not.toBe(kids[1]!.address);
    await waitFor(
      () => local.members().some((m) => m.id === 'p2' && m.state === 'alive' && m.address === again.address),
      'p2 back on its new address',
      60_000,
    );
  });
});
