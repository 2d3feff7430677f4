import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@fieldmesh/device-sdk';
import { loadGatewayConfig, parseGatewayConfig, ConfigError } from '@fieldmesh/gateway';
import { parseMeshConfig } from '#gateway/config/mesh';
import { meshSection, presets } from '#gateway/mesh/config';
import { startGatewayMesh } from '#gateway/mesh/gateway-mesh';
import { emptyMeta } from '#gateway/mesh/meta';
import type { Mesh } from '#gateway/mesh/mesh';
import { HttpApi } from '#gateway/http/server';
import { MetricsRegistry } from '#gateway/metrics/prometheus';

const key = randomBytes(32).toString('base64');

function refusal(raw: unknown): { code: string; path: string } {
  try {
    parseGatewayConfig({ mesh: raw });
  } catch (err) {
    if (err instanceof ConfigError) return { code: err.code, path: err.path };
    throw err;
  }
  throw new Error('accepted');
}

describe('mesh.tuning: the mesh section parsed in one place', () => {
  const meshes: Mesh[] = [];
  const apis: HttpApi[] = [];
  afterEach(async () => {
    await Promise.all(meshes.splice(0).map((m) => m.stop()));
    await Promise.all(apis.splice(0).map((a) => a.close()));
  });

  it('is accepted from a config file and applied over the preset', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fm-mesh-tuning-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, `mesh:\n  key: ${key}\n  preset: wan\n  tuning: { probeIntervalMs: 4000, lifeguard: false, gossipNodes: 5 }\n`);
    const config = loadGatewayConfig(file);
    expect(config.mesh.tuning).toEqual({ probeIntervalMs: 4000, lifeguard: false, gossipNodes: 5 });
    const section = meshSection(config.mesh);
    expect(section.tuning).toEqual({ ...presets.wan, probeIntervalMs: 4000, lifeguard: false, gossipNodes: 5 });
    expect(Object.isFrozen(section.tuning)).toBe(true);
    // No overrides: the preset as it is.
    expect(meshSection(parseMeshConfig({ key, preset: 'local' })).tuning).toEqual(presets.local);
  });

  it('refuses bad tuning at start, naming the key under mesh.tuning', () => {
    expect(refusal({ key, tuning: { probeInterval: 5 } })).toEqual({ code: 'FM_ERR_CONFIG_UNKNOWN_KEY', path: 'mesh.tuning.probeInterval' });
    expect(refusal({ key, tuning: { gossipNodes: 0 } })).toEqual({ code: 'FM_ERR_CONFIG_RANGE', path: 'mesh.tuning.gossipNodes' });
    expect(refusal({ key, tuning: { gossipNodes: 2.5 } })).toEqual({ code: 'FM_ERR_CONFIG_RANGE', path: 'mesh.tuning.gossipNodes' });
    expect(refusal({ key, tuning: { lifeguard: 'yes' } })).toEqual({ code: 'FM_ERR_CONFIG_RANGE', path: 'mesh.tuning.lifeguard' });
    expect(refusal({ key, tuning: [1] })).toEqual({ code: 'FM_ERR_CONFIG_TYPE', path: 'mesh.tuning' });
    // Checked against the chosen preset: lan probes every 1000 ms, wan every 5000 ms.
    expect(refusal({ key, preset: 'lan', tuning: { probeTimeoutMs: 2000 } })).toEqual({ code: 'FM_ERR_CONFIG_RANGE', path: 'mesh.tuning.probeTimeoutMs' });
    expect(parseMeshConfig({ key, preset: 'wan', tuning: { probeTimeoutMs: 2000 } }).tuning).toEqual({ probeTimeoutMs: 2000 });
    expect(refusal({ key, preset: 'wan', tuning: { probeIntervalMs: 1000 } })).toEqual({ code: 'FM_ERR_CONFIG_RANGE', path: 'mesh.tuning.probeIntervalMs' });
  });

  it('refuses what the mesh would refuse, at start, with the key path', () => {
    expect(refusal({ key, seeds: ['10.0.0.2:0'] })).toEqual({ code: 'FM_ERR_CONFIG_RANGE', path: 'mesh.seeds[0]' });
    expect(refusal({ key, seeds: ['10.0.0.2:70000'] })).toEqual({ code: 'FM_ERR_CONFIG_RANGE', path: 'mesh.seeds[0]' });
    expect(refusal({ key, advertise: '300.1.1.1:7946' })).toEqual({ code: 'FM_ERR_CONFIG_RANGE', path: 'mesh.advertise' });
    expect(refusal({ key, advertise: 'gw.local:7946' })).toEqual({ code: 'FM_ERR_CONFIG_RANGE', path: 'mesh.advertise' });
    expect(parseMeshConfig({ key, seeds: ['gw-b.local:7946', '[::1]:7946'], bind: '::', advertise: '[::1]:7946' }).seeds).toHaveLength(2);
    // An IPv4 socket (the default bind) could never send to it.
    expect(refusal({ key, seeds: ['gw-b.local:7946', '[::1]:7946'] })).toEqual({ code: 'FM_ERR_CONFIG_RANGE', path: 'mesh.seeds[1]' });
  });

  it('a running mesh probes at the configured interval', async () => {
    const mk = async (id: string, seeds: string[]) => {
      const http = new HttpApi();
      apis.push(http);
      const config = parseGatewayConfig({ mesh: { key, mdns: false, port: 0, bind: '127.0.0.1', preset: 'local', seeds, tuning: { probeIntervalMs: 40, probeTimeoutMs: 20 } } }).mesh;
      const mesh = (await startGatewayMesh({ id, config, http, metrics: new MetricsRegistry(), meta: () => emptyMeta, logger: silentLogger }))!;
      meshes.push(mesh);
      return mesh;
    };
    const a = await mk('gw-a', []);
    await mk('gw-b', [a.address]);
    // The local preset probes once a second: 25 probes would take 25 s; at 40 ms about one.
    const deadline = Date.now() + 8000;
    while (a.metrics().probes < 25) {
      if (Date.now() > deadline) throw new Error(`only ${a.metrics().probes} probes in 8 s: the tuning was not applied`);
      await new Promise((r) => setTimeout(r, 20));
    }
  });
});
