import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyArtifact, type ConfigBody, type ReleaseBody, type RollbackBody } from '#protocol/index';
import { tempDir } from '../../../cloud-bridge/cloud-fixture.js';
import { SimulatedGateway, startFleetCloud, waitFor, type FleetCloud } from '../../../cloud-bridge/fleet/fleet-fixture.js';
import { makeBundle, manifestOf, runCli, type CliResult } from './fleet-cli-run.js';

/**
 * The real `fieldmesh fleet` CLI against a real cloud bridge (HTTP, broker with credentials,
 * fleet.sqlite), its gateways simulated over real MQTT with their own credentials: what the CLI
 * signs reaches the gateways' desired state and verifies with the release key; the cloud's
 * refusals come back as exit 1 with its JSON error.
 */
describe('fleet CLI against a real cloud bridge', { timeout: 150_000 }, () => {
  const tmp = tempDir('fm-fleet-cli-');
  const dir = tmp.dir;
  let cloud: FleetCloud;
  let admin: string;
  let viewer: string;
  const gw: Record<string, SimulatedGateway> = {};
  let fleet: (args: string[], token?: string) => Promise<CliResult>;
  const fleetJson = async () => (await (await fetch(`http://127.0.0.1:${cloud.bridge.httpPort}/api/fleet`, { headers: { authorization: `Bearer ${admin}` } })).json()) as {
    gateways: Array<{ id: string; running: { version: string } | null; desired: { version?: string; configRevision?: number; rollbackOrder?: number } }>;
    configs: Array<{ revision: number }>;
    rollouts: Array<{ id: number; state: string; stopReason: string | null }>;
  };
  const lastDesired = (id: string) => gw[id]!.desired.at(-1);

  beforeAll(async () => {
    cloud = await startFleetCloud(['gw-a', 'gw-b', 'gw-c', 'gw-d']);
    admin = cloud.bridge.fleet.parts!.adminTokens.issue('ops', Date.now());
    viewer = cloud.bridge.live.tokens.issue('wall', Date.now());
    writeFileSync(join(dir, 'release.key'), JSON.stringify(cloud.key), { mode: 0o600 });
    const url = `http://127.0.0.1:${cloud.bridge.httpPort}`;
    fleet = (args, token = admin) => runCli(['fleet', ...args], dir, { FM_CLOUD_URL: url, FM_FLEET_TOKEN: token });
    const port = cloud.bridge.brokerPort;
    const pw = cloud.passwords;
    gw['gw-a'] = await SimulatedGateway.connect(port, 'gw-a', pw['gw-a']!, { tags: ['north'], running: '1.1.0' });
    gw['gw-b'] = await SimulatedGateway.connect(port, 'gw-b', pw['gw-b']!, { tags: ['north'], running: '1.1.0', outcome: () => 'silent' });
    gw['gw-c'] = await SimulatedGateway.connect(port, 'gw-c', pw['gw-c']!, { tags: ['south'], running: '1.1.0', outcome: () => 'rolled-back' });
    gw['gw-d'] = await SimulatedGateway.connect(port, 'gw-d', pw['gw-d']!, { tags: ['south'], running: '1.1.0' });
    await waitFor(async () => (await fleetJson()).gateways.filter((g) => g.running).length === 4, 'four gateways reported');
  });
  afterAll(async () => {
    for (const g of Object.values(gw)) await g.close();
    await cloud?.stop();
    tmp.cleanup();
  });

  it('set-version uploads, signs and sets desired: the gateway gets a release that verifies, the bundle downloads byte for byte, status shows it adopted', async () => {
    const tgz = makeBundle(dir, 'fieldmesh-bundle-1.2.0', manifestOf('1.2.0'), randomBytes(150_000).toString('base64'));
    const before = await fleet(['status']);
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toMatch(/^gw-a\s+north\s+online\s+1\.1\.0 \/ base\s+none set\s+-$/m);

    const r = await fleet(['set-version', '1.2.0', '--bundle', tgz, '--key', 'release.key', '--gateway', 'gw-a']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/uploaded  bundle 1\.2\.0: 1\d\d KiB, sha256 [0-9a-f]{64}, commit a1b2c3d4e5f6, x86_64, node ABI 115/);
    expect(r.stdout).toContain(`signed    release 1.2.0 with key ${cloud.key.keyId}`);
    expect(r.stdout).toContain('desired   version 1.2.0 for gateway gw-a');

    const d = await waitFor(() => lastDesired('gw-a')?.release && lastDesired('gw-a'), 'gw-a desired release');
    const check = verifyArtifact<ReleaseBody>(d.release, 'release', [cloud.key.publicKey]);
    expect(check.ok).toBe(true);
    const raw = readFileSync(tgz);
    expect(d.release!.body).toMatchObject({ version: '1.2.0', bytes: raw.length, commit: 'a1b2c3d4e5f6', machine: 'x86_64', nodeAbi: '115' });
    const download = await fetch(`http://127.0.0.1:${cloud.bridge.httpPort}${d.bundlePath}`, { headers: { authorization: `Basic ${Buffer.from(`gw-a:${cloud.passwords['gw-a']}`).toString('base64')}` } });
    expect(Buffer.from(await download.arrayBuffer()).equals(raw)).toBe(true);
    expect(gw['gw-b']!.versionsSeen()).toEqual([]); // nobody else was told

    await waitFor(async () => (await fleetJson()).gateways.find((g) => g.id === 'gw-a')?.running?.version === '1.2.0', 'gw-a adopted');
    const after = await fleet(['status']);
    expect(after.stdout).toMatch(/^gw-a\s+north\s+online\s+1\.2\.0 \/ base\s+=\s+adopted 1\.2\.0$/m);
    const asJson = JSON.parse((await fleet(['status', '--json'])).stdout) as { gateways: unknown[] };
    expect(asJson.gateways).toHaveLength(4);
  });

  it('the cloud refuses a foreign key, a bad token, a viewer writing: exit 1 with its JSON error; nothing is desired', async () => {
    const foreign = await runCli(['fleet', 'keygen', '--out', 'foreign.key'], dir);
    expect(foreign.code).toBe(0);
    const tgz = makeBundle(dir, 'fieldmesh-bundle-1.3.0', manifestOf('1.3.0'));
    const r = await fleet(['set-version', '1.3.0', '--bundle', tgz, '--key', 'foreign.key', '--all']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/PUT \/api\/fleet\/releases\/1\.3\.0 answered 400: \{"error":"the release envelope is refused \(wrong-key\): .*not in fleet\.releaseKeys.*","code":"FM_ERR_CLOUD_HTTP_BAD_REQUEST"\}/);
    expect(r.stderr).toContain('FM_ERR_CLI_FLEET_REFUSED');
    expect((await fleetJson()).gateways.every((g) => g.desired.version !== '1.3.0')).toBe(true);

    const badToken = await fleet(['status'], 'not-a-token');
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/GET \/api\/fleet answered 401: \{"error".*the token was not accepted/);
    const viewerWrites = await fleet(['rollout', '--version', '1.2.0'], viewer);
    expect(viewerWrites.code).toBe(1);
    expect(viewerWrites.stderr).toMatch(/POST \/api\/fleet\/rollouts answered 403: .*use a fleet admin token/);
    expect((await fleet(['status'], viewer)).code).toBe(0); // a live token reads
  });

  it('a rollout that fails its canary stops with the reason; pause and resume; status shows waves and failures', async () => {
    const south = await fleet(['rollout', '--version', '1.2.0', '--group', 'south', '--canary', '50', '--waves', '1', '--max-failure', '0']);
    expect(south.code, south.stderr).toBe(0);
    expect(south.stdout).toMatch(/^rollout 1  version 1\.2\.0 to group south: (running|stopped)/m);
    await waitFor(async () => (await fleetJson()).rollouts.find((x) => x.id === 1)?.state === 'stopped', 'rollout 1 stopped');
    const st = await fleet(['status']);
    expect(st.stdout).toMatch(/^rollout 1  version 1\.2\.0 to group south: stopped \(wave 0 \(canary\): 1 of 1 failed .*\); canary wave, 1 wave after it, 0 adopted, 1 failed, 0 pending, 1 not reached$/m);
    expect(st.stdout).toMatch(/^ {10}failed gw-c: rolled-back: exited with code 1 before confirming$/m);
    expect(st.stdout).toMatch(/^gw-c\s+south\s+online\s+1\.1\.0 \/ base\s+\S.*rolled-back 1\.2\.0: exited with code 1 before confirming$/m);
    expect(gw['gw-d']!.versionsSeen()).toEqual([]); // the wave after the canary was never touched

    // North: gw-a runs 1.2.0 already (canary adopted at once), gw-b stays silent: wave 1 waits.
    const north = await fleet(['rollout', '--version', '1.2.0', '--group', 'north', '--canary', '50', '--waves', '1', '--wave-timeout', '3600']);
    expect(north.code, north.stderr).toBe(0);
    await waitFor(() => gw['gw-b']!.versionsSeen().includes('1.2.0'), 'gw-b told in wave 1');
    const busy = await fleet(['rollout', '--version', '1.2.0']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/answered 409: .*rollout 2 is running/);
    const paused = await fleet(['pause', '2']);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toMatch(/^rollout 2  version 1\.2\.0 to group north: paused; wave 1 of 1, 1 adopted, 0 failed, 1 pending$/m);
    expect((await fleet(['status'])).stdout).toMatch(/^rollout 2 .*: paused; wave 1 of 1/m);
    const resumed = await fleet(['resume', '2']);
    expect(resumed.stdout).toMatch(/^rollout 2 .*: running; wave 1 of 1/m);
    expect((await fleet(['pause', '99'])).stderr).toMatch(/answered 404: .*no rollout 99/);
    // gw-b adopts at last: the rollout is done.
    gw['gw-b']!.running = '1.2.0';
    gw['gw-b']!.publish({ update: { kind: 'release', target: '1.2.0', step: 'confirm', outcome: 'adopted', at: new Date().toISOString() } });
    await waitFor(async () => (await fleetJson()).rollouts.find((x) => x.id === 2)?.state === 'done', 'rollout 2 done');
  });

  it('cancel stops a rollout for good, its unanswered member back on what it runs; a new one starts at once; done or unknown ids are refused', async () => {
    // gw-b falls back to 1.1.0 and stays silent: in a north rollout it holds wave 1 open.
    gw['gw-b']!.running = '1.1.0';
    gw['gw-b']!.publish();
    await waitFor(async () => (await fleetJson()).gateways.find((g) => g.id === 'gw-b')?.running?.version === '1.1.0', 'gw-b reports 1.1.0');
    const start = await fleet(['rollout', '--version', '1.2.0', '--group', 'north', '--canary', '50', '--waves', '1', '--wave-timeout', '3600']);
    expect(start.code, start.stderr).toBe(0);
    const id = Number(/^rollout (\d+) /m.exec(start.stdout)![1]);
    // gw-b's group already names 1.2.0, so no new desired message: the rollout says it reached wave 1.
    await waitFor(() => cloud.bridge.fleet.store.rollout(id)?.wave === 1, 'rollout in wave 1');
    const busy = await fleet(['rollout', '--version', '1.2.0']);
    expect(busy.stderr).toMatch(new RegExp(`answered 409: .*or cancel it \\(fieldmesh fleet cancel ${id}\\)`));
    expect((await fleet(['cancel', String(id)], viewer)).stderr).toMatch(/answered 403: .*fleet admin token/);
    const cancelled = await fleet(['cancel', String(id)]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toMatch(new RegExp(`^rollout ${id}  version 1\\.2\\.0 to group north: stopped \\(cancelled by ops\\); wave 1 of 1, 1 adopted, 1 failed, 0 pending$`, 'm'));
    expect(cancelled.stdout).toMatch(/a new rollout can start now \(fieldmesh fleet rollout\)/);
    // 1.1.0 is not at the cloud: gw-b's own entry keeps what it runs.
    await waitFor(() => gw['gw-b']!.desired.at(-1)!.release === undefined, 'gw-b desired back to keep');
    const st = await fleet(['status']);
    expect(st.stdout).toMatch(new RegExp(`^rollout ${id} .*: stopped \\(cancelled by ops\\)`, 'm'));
    expect(st.stdout).toMatch(/^ {10}failed gw-b: cancelled$/m);
    expect((await fleet(['history'])).stdout).toMatch(new RegExp(`rollout\\s+rollout=${id} event=stopped version=1\\.2\\.0 wave=1 reason=cancelled by ops by=ops unfinished=gw-b`));
    const again = await fleet(['cancel', String(id)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`answered 409: .*rollout ${id} is stopped, not running or paused: it is over already \\(cancelled by ops\\); start a new rollout`));
    expect((await fleet(['cancel', '2'])).stderr).toMatch(/answered 409: .*rollout 2 is done, not running or paused/);
    expect((await fleet(['cancel', '99'])).stderr).toMatch(/answered 404: .*no rollout 99/);
    expect((await fleet(['cancel', 'x'])).code).toBe(2);
    // The next rollout starts right away; cancelled too, so the fleet is left as it was.
    const next = await fleet(['rollout', '--version', '1.2.0', '--group', 'north', '--canary', '50', '--waves', '1', '--wave-timeout', '3600', '--json']);
    expect(next.code, next.stderr).toBe(0);
    const nextId = (JSON.parse(next.stdout) as { id: number; state: string }).id;
    expect(nextId).toBe(id + 1);
    expect(JSON.parse((await fleet(['cancel', String(nextId), '--json'])).stdout)).toMatchObject({ id: nextId, state: 'stopped', stopReason: 'cancelled by ops' });
  });

  it('set-config signs YAML sections as the next revision; refuses a fixed section locally', async () => {
    writeFileSync(join(dir, 'rules.yaml'), 'rules:\n  - { name: hot, series: boiler/temp, high: 85 }\n');
    const r1 = await fleet(['set-config', '--file', 'rules.yaml', '--key', 'release.key', '--gateway', 'gw-d', '--note', 'hotter']);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout).toContain('signed    config revision 1 (rules)');
    const r2 = await fleet(['set-config', '--file', 'rules.yaml', '--key', 'release.key', '--gateway', 'gw-d', '--json']);
    expect(JSON.parse(r2.stdout)).toMatchObject({ revision: 2, sections: ['rules'], keyId: cloud.key.keyId, desired: { scope: 'gateway:gw-d', configRevision: 2, changed: ['gw-d'] } });
    const d = await waitFor(() => lastDesired('gw-d')?.config?.body.revision === 2 && lastDesired('gw-d'), 'gw-d desired revision 2');
    const check = verifyArtifact<ConfigBody>(d.config, 'config', [cloud.key.publicKey]);
    expect(check.ok && check.body.sections).toEqual({ rules: [{ name: 'hot', series: 'boiler/temp', high: 85 }] });

    // Cleared, gw-d follows nothing again: its desired state no longer names a config.
    const cleared = await fleet(['clear', '--gateway', 'gw-d']);
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(cleared.stdout).toBe('cleared   the desired entry for gateway gw-d; 1 gateway now follows another entry (gw-d)\n');
    await waitFor(() => lastDesired('gw-d')?.config === undefined, 'gw-d desired without config');

    writeFileSync(join(dir, 'fixed.yaml'), 'dataDir: /tmp/elsewhere\n');
    const fixed = await fleet(['set-config', '--file', 'fixed.yaml', '--key', 'release.key', '--all']);
    expect(fixed.code).toBe(2);
    expect(fixed.stderr).toMatch(/sets dataDir: a revision may not set id, gatewayId, dataDir, fleet/);
    expect((await fleetJson()).configs.map((c) => c.revision).sort()).toEqual([1, 2]);
  });

  it('rollback signs orders above every one used, also after its desired entry was replaced; history lists it all', async () => {
    const old = makeBundle(dir, 'fieldmesh-bundle-1.1.0', manifestOf('1.1.0'));
    const up = await fleet(['set-version', '1.1.0', '--bundle', old, '--key', 'release.key', '--upload-only']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toContain('stored    release 1.1.0; nothing set desired');
    const upAgain = await fleet(['set-version', '1.1.0', '--bundle', old, '--key', 'release.key', '--upload-only', '--json']);
    expect(JSON.parse(upAgain.stdout)).toEqual({ version: '1.1.0', sha256: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: readFileSync(old).length, uploaded: false, desired: null });
    const rb1 = await fleet(['rollback', '--version', '1.1.0', '--key', 'release.key', '--gateway', 'gw-a', '--note', 'back down']);
    expect(rb1.code, rb1.stderr).toBe(0);
    expect(rb1.stdout).toContain('signed    rollback order 1');
    const d1 = await waitFor(() => lastDesired('gw-a')?.rollback && lastDesired('gw-a'), 'gw-a rollback');
    const c1 = verifyArtifact<RollbackBody>(d1.rollback, 'rollback', [cloud.key.publicKey]);
    expect(c1.ok && c1.body).toMatchObject({ order: 1, version: '1.1.0', note: 'back down' });
    expect(d1.release!.body.version).toBe('1.1.0');

    // The entry is replaced (no rollback in it any more); the next order still goes above 1.
    const again = await fleet(['set-version', '1.2.0', '--bundle', join(dir, 'fieldmesh-bundle-1.2.0.tgz'), '--key', 'release.key', '--gateway', 'gw-a']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/release 1\.2\.0 is already at the cloud \(same sha256 [0-9a-f]{64}\); not uploaded again/);
    // The same version from another bundle is refused before anything is sent.
    const other = await fleet(['set-version', '1.2.0', '--bundle', makeBundle(dir, 'other-1.2.0', manifestOf('1.2.0'), 'other'), '--key', 'release.key', '--gateway', 'gw-a']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/release 1\.2\.0 is already published at the cloud for another bundle .* bump the version/);
    expect((await fleetJson()).gateways.find((g) => g.id === 'gw-a')!.desired.rollbackOrder).toBeUndefined();
    const rb2 = await fleet(['rollback', '--version', '1.1.0', '--key', 'release.key', '--gateway', 'gw-a']);
    expect(rb2.stdout).toContain('signed    rollback order 2');

    const h = await fleet(['history', '--gateway', 'gw-a']);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/^AT\s+GATEWAY\s+EVENT\s+DETAIL$/m);
    expect(h.stdout).toMatch(/gw-a\s+desired-set\s+scope=gateway:gw-a by=ops version=1\.2\.0/);
    expect(h.stdout).toMatch(/gw-a\s+desired-set\s+.*version=1\.1\.0 rollbackOrder=2/);
    expect(h.stdout).toMatch(/gw-a\s+update\s+artifact=release target=1\.2\.0 outcome=adopted step=confirm/);
    // Oldest first: the first version set comes before the second rollback, which gw-a then adopted.
    const lines = h.stdout.trim().split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/desired-set .*version=1\.2\.0$/)).toBeGreaterThan(0);
    expect(at(/desired-set .*version=1\.2\.0$/)).toBeLessThan(at(/rollbackOrder=2/));
    expect(at(/rollbackOrder=2/)).toBeLessThan(lines.length - 1);
    expect(lines.at(-1)).toMatch(/update\s+artifact=release target=1\.1\.0 outcome=adopted/);
  });
});
