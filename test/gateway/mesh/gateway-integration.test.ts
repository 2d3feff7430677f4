import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway } from '#gateway/gateway';
import { parseGatewayConfig } from '#gateway/config/index';
import { waitFor } from '../../wait-for.js';

describe('gateways form a mesh when mesh.key is configured', () => {
  const gateways: Gateway[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const g of gateways.splice(0)) await g.stop();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  const config = (id: string, mesh: Record<string, unknown>) => {
    const dir = mkdtempSync(join(tmpdir(), 'fm-mesh-gw-'));
    dirs.push(dir);
    return parseGatewayConfig({ id, dataDir: dir, broker: { port: 0, host: '127.0.0.1', auth: 'none' }, http: { port: 0 }, mesh });
  };

  it('serves /api/members and mesh metrics; without a key the mesh stays off', async () => {
    const key = randomBytes(32).toString('base64');
    const a = new Gateway(config('gw-a', { port: 0, mdns: false, key, bind: '127.0.0.1', preset: 'local' }), { print: () => {} });
    gateways.push(a);
    const { httpPort: portA } = await a.start();
    const b = new Gateway(config('gw-b', { port: 0, mdns: false, key, bind: '127.0.0.1', preset: 'local', seeds: [a.mesh!.address] }), { print: () => {} });
    gateways.push(b);
    await b.start();
    const members = async () => ((await (await fetch(`http://127.0.0.1:${portA}/api/members`)).json()) as { members: Array<{ id: string; state: string; meta: { uplink: string } }> }).members;
    await waitFor(async () => (await members()).filter((m) => m.state === 'alive').length === 2, 'two gateways in the mesh');
    expect((await members()).find((m) => m.id === 'gw-b')!.meta.uplink).toBe('none');
    const metrics = await (await fetch(`http://127.0.0.1:${portA}/metrics`)).text();
    expect(metrics).toMatch(/fieldmesh_mesh_members\{state="alive"\} 2/);

    const c = new Gateway(config('gw-c', { mdns: false }), { print: () => {} });
    gateways.push(c);
    const { httpPort: portC } = await c.start();
    expect(c.mesh).toBeNull();
    expect((await fetch(`http://127.0.0.1:${portC}/api/members`)).status).toBe(404);
  });

  it('rejects bad mesh keys naming the key path', () => {
    expect(() => config('gw-x', { key: 'short' })).toThrow(/mesh\.key/);
    expect(() => config('gw-x', { preset: 'fast' })).toThrow(/mesh\.preset/);
  });
});
