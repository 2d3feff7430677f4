import { readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleetCloud, waitFor, type FleetCloud } from '../../../cloud-bridge/fleet/fleet-fixture.js';
import { buildBundle, MACHINE, tempRoot } from '../../fleet/fleet-fixture.js';
import { layRoot, startFleetGateway } from '../../fleet/fleet-gateway.js';
import { runCli, type CliResult } from './fleet-cli-run.js';

/**
 * The operator's side of a first update, end to end with the real parts: the `fieldmesh fleet`
 * CLI (a real process) signs and uploads to a real cloud bridge, and a real gateway's fleet agent
 * takes it from there — it accepts the CLI's release (machine, Node ABI and hash from the
 * bundle's manifest), downloads with its own credential, switches; and it refuses a config
 * revision its validator rejects, which `fleet status` then shows with the gateway's reason.
 */
describe('fleet CLI with a real gateway agent', { timeout: 150_000 }, () => {
  const dir = tempRoot('fm-fleet-cli-agent-');
  let cloud: FleetCloud;
  let fleet: (args: string[]) => Promise<CliResult>;
  const gateways: Array<{ stop: () => Promise<void> }> = [];

  beforeAll(async () => {
    cloud = await startFleetCloud(['gw-one', 'gw-two']);
    const admin = cloud.bridge.fleet.parts!.adminTokens.issue('ops', Date.now());
    writeFileSync(join(dir, 'release.key'), JSON.stringify(cloud.key), { mode: 0o600 });
    fleet = (args) => runCli(['fleet', ...args], dir, { FM_CLOUD_URL: `http://127.0.0.1:${cloud.bridge.httpPort}`, FM_FLEET_TOKEN: admin });
  });
  afterAll(async () => {
    for (const g of gateways) await g.stop();
    await cloud?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (gw: string) => {
    const r = layRoot(join(dir, gw));
    const g = await startFleetGateway(r, { gw, brokerUrl: `mqtt://127.0.0.1:${cloud.bridge.brokerPort}`, cloudUrl: `http://127.0.0.1:${cloud.bridge.httpPort}`, password: cloud.passwords[gw]!, releaseKeys: [cloud.key.publicKey] });
    gateways.push(g);
    return { r, g };
  };

  it('set-version: the agent accepts what the CLI signed, downloads, switches; status shows the switch', async () => {
    const bundle = buildBundle(dir, '1.2.0');
    const set = await fleet(['set-version', '1.2.0', '--bundle', bundle.file, '--key', 'release.key', '--gateway', 'gw-one']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain(`, ${MACHINE}, node ABI ${process.versions.modules}`);

    const { r, g } = await start('gw-one');
    await waitFor(() => g.exitCode() === 75, 'gw-one switched and asked for its restart', 30_000);
    expect(readlinkSync(join(r.releasesDir, 'current'))).toBe('1.2.0');
    const st = await waitFor(async () => {
      const s = await fleet(['status']);
      return /^gw-one\s+north\s+\S+\s+1\.1\.0 \/ base\s+1\.2\.0 \/ base\s+in-progress 1\.2\.0 \(switch(, [\d.]+ [KMG]?i?B)?\)$/m.test(s.stdout) && s;
    }, 'fleet status shows the switch');
    expect(st.code).toBe(0);
  });

  it('set-config: a revision the gateway validator rejects is refused there, and status says why', async () => {
    const { g: two } = await start('gw-two');
    await waitFor(async () => /^gw-two\s/m.test((await fleet(['status'])).stdout), 'gw-two reported');
    // Well-formed YAML of a known section, but not a valid rules section.
    writeFileSync(join(dir, 'bad-rules.yaml'), 'rules:\n  - { name: hot, high: "very" }\n');
    const set = await fleet(['set-config', '--file', 'bad-rules.yaml', '--key', 'release.key', '--gateway', 'gw-two']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('signed    config revision 1 (rules)');
    const st = await waitFor(async () => {
      const s = await fleet(['status']);
      return /^gw-two\s.*refused config 1: invalid-config$/m.test(s.stdout) && s;
    }, 'fleet status shows the refusal', 30_000);
    expect(st.stdout).toMatch(/^gw-two\s+north\s+online\s+1\.1\.0 \/ base\s+1\.1\.0 \/ rev 1\s+refused config 1: invalid-config$/m);
    // The validator's own words, under the table: what to fix in the file.
    expect(st.stdout).toMatch(/^ {10}gw-two refused config 1: invalid-config: rules\[0\]\./m);
    // The gateway's own status says the same, from its HTTP API.
    const own = await runCli(['status', '--url', `http://127.0.0.1:${two.gw.http.port}`], dir);
    expect(own.code, own.stderr).toBe(0);
    expect(own.stdout).toMatch(/^fleet {5}1\.1\.0 \/ base config, 1 refused \(fieldmesh fleet history --gateway ID shows why\)$/m);
    const why = JSON.parse((await fleet(['status', '--json'])).stdout) as { gateways: Array<{ id: string; refused: Array<{ reason: string; why: string }> }> };
    expect(why.gateways.find((x) => x.id === 'gw-two')!.refused[0]!.why).toMatch(/rules/);
  });
});
