import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadGatewayConfig, parseGatewayConfig } from '#gateway/config/gateway-config';
import { CLOUD_DEFAULTS, loadCloudConfig, resolveCloudConfig } from '#cloud-bridge/config';
import { keysAt, renderTemplate, sectionPaths, type TemplateKey } from '#gateway/cli/init/config-template';
import { gatewayTemplate } from '#gateway/cli/init/gateway-template';
import { cloudTemplate } from '#gateway/cli/init/cloud-template';

const BIN = resolve(import.meta.dirname, '../../../gateway/bin/fieldmesh.js');
const dir = mkdtempSync(join(tmpdir(), 'fm-init-'));
const KEY = Buffer.alloc(32, 7).toString('base64');

function run(args: string[], cwd = dir): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let n = 0;
function file(text: string): string {
  const f = join(dir, `probe-${n++}.yaml`);
  writeFileSync(f, text);
  return f;
}

/** The error a load throws. */
function refusal(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the loader to refuse');
}

/**
 * The keys the real loader knows at `path`: an unknown key is put there, and the refusal lists
 * the known ones. So the template is checked against the schema itself, not against a copy.
 */
function knownKeys(doc: Record<string, unknown>, path: string[], load: (f: string) => unknown): string[] {
  const copy = structuredClone(doc);
  let at: Record<string, unknown> = copy;
  for (const p of path) at = (Array.isArray(at) ? at[Number(p)] : at[p]) as Record<string, unknown>;
  at.zzzNotAKey = 1;
  const msg = refusal(() => load(file(stringify(copy))));
  const m = /(?:[Kk]nown keys(?: in \S+| here)?|accepted): ([A-Za-z0-9_, ]+)/.exec(msg);
  if (!m) throw new Error(`no key list in: ${msg}`);
  return m[1]!.trim().split(/,\s*/).sort();
}

function coverage(tree: TemplateKey[], text: string, load: (f: string) => unknown, skip: string[] = []) {
  const doc = parse(text) as Record<string, unknown>;
  for (const path of sectionPaths(tree)) {
    if (skip.includes(path.join('.'))) continue;
    expect(knownKeys(doc, path, load), `keys at ${path.join('.') || '(top level)'}`).toEqual([...keysAt(tree, path)!].sort());
  }
}

describe('fieldmesh init gateway', () => {
  it('writes a file (0600) that the real loader reads as exactly the defaults, with this id and a fresh mesh key, and says what to run next', async () => {
    const out = join(dir, 'gateway.yaml');
    const r = await run(['init', 'gateway', '--id', 'gw-init', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`fieldmesh cloud add-gateway gw-init --config cloud.yaml`);
    expect(r.stdout).toContain(`fieldmesh gateway add-device DEVICE_ID --config ${out}`);
    expect(r.stdout).toContain(`fieldmesh gateway --config ${out}`);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const c = loadGatewayConfig(out);
    expect(Buffer.from(c.mesh.key!, 'base64')).toHaveLength(32);
    expect(c).toEqual(parseGatewayConfig({ id: 'gw-init', mesh: { key: c.mesh.key } }, dirname(out)));
    expect(c.broker.devices).toEqual([]);
    // Every key carries its why, on the line just above it.
    const text = readFileSync(out, 'utf8');
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const walk = (keys: TemplateKey[]): void => {
      for (const k of keys) {
        expect(text, `why of ${k.key}`).toMatch(new RegExp(`# ${esc(k.why)}\n\\s*(# )?(- )?${k.key}:`));
        if (k.keys) walk(k.keys);
        for (const item of k.items ?? []) walk(item);
      }
    };
    walk(gatewayTemplate({ id: 'gw-init', meshKey: c.mesh.key! }));
    // A second init does not overwrite it; a mesh of several shares the key.
    expect((await run(['init', 'gateway', '--out', out])).code).toBe(2);
    const b = join(dir, 'gw-b.yaml');
    expect((await run(['init', 'gateway', '--id', 'gw-b', '--mesh-key', c.mesh.key!, '--out', b])).code).toBe(0);
    expect(loadGatewayConfig(b).mesh.key).toBe(c.mesh.key);
    const bad = await run(['init', 'gateway', '--mesh-key', 'short', '--out', join(dir, 'bad.yaml')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/FM_ERR_CONFIG_RANGE.*mesh\.key/);
  });

  it('--uplink writes the uplink block live, its password taken from the environment at start', async () => {
    const out = join(dir, 'with-uplink.yaml');
    const r = await run(['init', 'gateway', '--id', 'gw-u', '--uplink', 'mqtt://cloud.example:1884', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('export FM_UPLINK_PASSWORD=');
    const c = loadGatewayConfig(out, { get: (v) => ({ FM_UPLINK_PASSWORD: 's3cret', FM_UPLINK_SIGNING_KEY: `${'B'.repeat(43)}=` })[v] });
    expect(c.uplink).toMatchObject({ url: 'mqtt://cloud.example:1884', username: 'gw-u', password: 's3cret' });
    expect(readFileSync(out, 'utf8')).not.toContain('s3cret');
    expect(() => loadGatewayConfig(out, { get: () => undefined })).toThrow(/FM_UPLINK_PASSWORD is not set/);
  });

  it('its commented examples (serial line, uplink, rule) load too once uncommented', () => {
    const tree = gatewayTemplate({ id: 'gw-x', meshKey: KEY });
    const f = file(renderTemplate([], tree, { uncomment: true }));
    const c = loadGatewayConfig(f, { get: (v) => ({ FM_UPLINK_PASSWORD: 'pw', FM_UPLINK_SIGNING_KEY: `${'B'.repeat(43)}=` })[v] });
    expect(c.serial).toHaveLength(1);
    expect(c.uplink).toMatchObject({ url: 'mqtt://cloud.example:1884', password: 'pw' });
    expect(c.rules).toHaveLength(1);
  });

  it('covers every key the loader knows, at every level (so it cannot drift from the schema)', () => {
    const tree = gatewayTemplate({ id: 'gw-x', meshKey: KEY });
    const env = { get: (v: string) => ({ FM_UPLINK_PASSWORD: 'pw', FM_UPLINK_SIGNING_KEY: `${'B'.repeat(43)}=` })[v] };
    // A rule's keys depend on its kind; the rules schema has its own tests.
    coverage(tree, renderTemplate([], tree, { uncomment: true }), (f) => loadGatewayConfig(f, env), ['rules.0']);
  });
});

describe('fieldmesh init cloud', () => {
  it('writes a file the real loader reads as exactly the defaults, and says what to run next', async () => {
    const sub = mkdtempSync(join(dir, 'cloud-'));
    const r = await run(['init', 'cloud'], sub);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('fieldmesh cloud add-gateway GATEWAY_ID --config cloud.yaml');
    expect(r.stdout).toContain('fieldmesh cloud --config cloud.yaml');
    expect(loadCloudConfig(join(sub, 'cloud.yaml'))).toEqual(resolveCloudConfig({}, sub));
  });

  it('its examples load once uncommented, and it covers every key the loader knows', () => {
    const tree = cloudTemplate(CLOUD_DEFAULTS);
    const text = renderTemplate([], tree, { uncomment: true });
    const env = { get: (v: string) => (v === 'FM_BROKER_PASSWORD' ? 'pw' : undefined) };
    const c = loadCloudConfig(file(text), env);
    expect(c.broker.url).toBe('mqtt://127.0.0.1:1883');
    expect(c.store).toMatch(/^postgres:\/\//);
    coverage(tree, text, (f) => loadCloudConfig(f, env));
  });
});
