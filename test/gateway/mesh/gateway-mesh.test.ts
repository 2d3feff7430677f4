import { afterEach, describe, expect, it, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import { silentLogger } from '#device-sdk/logger';
import { HttpApi } from '#gateway/http/server';
import { MetricsRegistry } from '#gateway/metrics/prometheus';
import { startGatewayMesh } from '#gateway/mesh/gateway-mesh';
import { emptyMeta } from '#gateway/mesh/meta';
import type { Mesh } from '#gateway/mesh/mesh';
import membersCommand from '#gateway/cli/commands/members';
import { waitFor } from '../../wait-for.js';

describe('mesh in the gateway: /api/members, /metrics, fieldmesh members', () => {
  const meshes: Mesh[] = [];
  const apis: HttpApi[] = [];
  afterEach(async () => {
    await Promise.all(meshes.splice(0).map((m) => m.stop()));
    await Promise.all(apis.splice(0).map((a) => a.close()));
    vi.restoreAllMocks();
  });

  it('stays off without a key', async () => {
    const mesh = await startGatewayMesh({
      id: 'gw-a',
      config: { port: 0, mdns: false, seeds: [], key: null },
      http: new HttpApi(),
      metrics: new MetricsRegistry(),
      meta: () => emptyMeta,
      logger: silentLogger,
    });
    expect(mesh).toBeNull();
  });

  it('serves members and metrics, and the CLI prints them', async () => {
    const key = randomBytes(32).toString('base64');
    let backlogB = 12;
    let metaReadsB = 0;
    const mk = async (id: string, seeds: string[]) => {
      const http = new HttpApi();
      const metrics = new MetricsRegistry();
      apis.push(http);
      const mesh = (await startGatewayMesh({
        id,
        config: { port: 0, mdns: false, seeds, key, bind: '127.0.0.1', preset: 'local' },
        http,
        metrics,
        meta: () => {
          if (id === 'gw-b') metaReadsB++;
          return { ...emptyMeta, version: '0.1.0', uplink: 'up' as const, backlog: id === 'gw-b' ? backlogB : 0 };
        },
        metaIntervalMs: 50,
        logger: silentLogger,
      }))!;
      meshes.push(mesh);
      return { http, metrics, mesh };
    };
    const a = await mk('gw-a', []);
    const b = await mk('gw-b', [a.mesh.address]);
    await waitFor(() => a.mesh.members().length === 2 && b.mesh.members().every((m) => m.state === 'alive'), 'two members');
    const res = await a.http.inject('GET', '/api/members');
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { self: string; members: Array<{ id: string; state: string; meta: { backlog: number } }> };
    expect(body.self).toBe('gw-a');
    expect(body.members.map((m) => m.id).sort()).toEqual(['gw-a', 'gw-b']);
    expect(body.members.find((m) => m.id === 'gw-b')!.meta.backlog).toBe(12);
    // A small change is not gossiped (same power-of-two bucket); a large one is.
    backlogB = 13;
    const reads = metaReadsB;
    await waitFor(() => metaReadsB >= reads + 2, "gw-b's metadata read twice since the change");
    // Read and judged too small to tell: gw-b's own record keeps 12, so there is nothing to gossip.
    expect(b.mesh.members().find((m) => m.id === 'gw-b')!.meta!.backlog).toBe(12);
    expect(a.mesh.members().find((m) => m.id === 'gw-b')!.meta!.backlog).toBe(12);
    backlogB = 5000;
    await waitFor(() => a.mesh.members().find((m) => m.id === 'gw-b')!.meta!.backlog === 5000, 'backlog change gossiped');
    backlogB = 12;
    await waitFor(() => a.mesh.members().find((m) => m.id === 'gw-b')!.meta!.backlog === 12, 'backlog back');
    const text = a.metrics.render();
    expect(text).toMatch(/fieldmesh_mesh_probes_total \d+/);
    expect(text).toMatch(/fieldmesh_mesh_members\{state="alive"\} 2/);
    expect(text).toMatch(/fieldmesh_mesh_dropped_total\{reason="auth"\} 0/);

    await a.http.listen(0, '127.0.0.1');
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    const code = await membersCommand.run(['--url', `http://127.0.0.1:${a.http.port}`]);
    vi.restoreAllMocks();
    expect(code).toBe(0);
    const printed = out.join('');
    expect(printed).toMatch(/gw-a \(self\)\s+127\.0\.0\.1:\d+\s+alive/);
    expect(printed).toMatch(/gw-b\s+127\.0\.0\.1:\d+\s+alive\s+\d+\s+gateway\s+0\.1\.0\s+up\s+12/);
    expect(printed).toMatch(/2 alive of 2/);
  });

  it('the CLI fails with exit 1 when no gateway answers', async () => {
    const err: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    const code = await membersCommand.run(['--url', 'http://127.0.0.1:9']);
    expect(code).toBe(1);
    expect(err.join('')).toMatch(/cannot reach/);
  });
});
