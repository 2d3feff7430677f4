/**
 * SIGKILL of a real gateway process in the middle of an update, and a restart: whatever step it
 * was in, the files say how far it got, and the next start finishes the update to the same end
 * state (exit 75, the journal at trial, current at the new release) without downloading twice.
 */
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_VERSION } from '#gateway/version';
import { waitFor } from '../../wait-for.js';
import { ABI, MACHINE, buildBundle, desiredRelease, releaseBody, startBundleServer, startCloudBroker, tempRoot } from './fleet-fixture.js';
import { GW_PASSWORD, layRoot, type FleetRoot } from './fleet-gateway.js';
import { runGateway, writeGatewayYaml, type GatewayProcess } from './fleet-process.js';

// The child runs from this source tree, so it runs the package's version.
const RUNNING = GATEWAY_VERSION;
const GW = 'gw-kill';
const dir = tempRoot();
let cloud: Awaited<ReturnType<typeof startCloudBroker>>;
let http: Awaited<ReturnType<typeof startBundleServer>>;
const children: GatewayProcess[] = [];

beforeAll(async () => {
  cloud = await startCloudBroker();
  http = await startBundleServer({ user: GW, password: GW_PASSWORD });
});
afterAll(async () => {
  for (const c of children) await c.kill();
  await http.close();
  await cloud.close();
});

function start(r: FleetRoot): GatewayProcess {
  const yaml = writeGatewayYaml(r, { gw: GW, brokerUrl: cloud.url, cloudUrl: http.url });
  const c = runGateway(['--config', yaml]);
  children.push(c);
  return c;
}

/** After the restart: exit 75 and the state the launcher needs, nothing half done left. */
async function expectSwitched(c: GatewayProcess, r: FleetRoot, serial: number) {
  const code = await Promise.race([c.exited, new Promise((res) => setTimeout(() => res('timeout'), 60_000))]);
  expect(code, c.output().slice(-2000)).toBe(75);
  expect(readlinkSync(join(r.releasesDir, 'current'))).toBe('1.2.0');
  expect(readFileSync(join(r.stateDir, 'switch.state'), 'utf8')).toBe(
    `kind=release\ntarget=1.2.0\nprevious=${RUNNING}\nstep=trial\nattempts=0\nmaxAttempts=2\ndeadlineSec=120\nuplinkWasUp=1\nserial=${serial}\n`,
  );
  expect(JSON.parse(readFileSync(join(r.releasesDir, '1.2.0/bundle-manifest.json'), 'utf8')).version).toBe('1.2.0');
  expect(existsSync(join(r.releasesDir, '1.2.0.partial'))).toBe(false);
  expect(existsSync(join(r.stateDir, 'downloads/1.2.0.tgz.part'))).toBe(false);
  // A clean stop before the exit: the reading log was closed (no WAL left behind).
  expect(existsSync(join(r.dataDir, 'gateway.db-wal'))).toBe(false);
}

describe('fleet agent killed mid-update', () => {
  it('during fetch: the part survives, the restart resumes it with Range and switches', async () => {
    const r = layRoot(join(dir, 'fetch'), RUNNING);
    const b = buildBundle(dir, '1.2.0', { fillerBytes: 1_500_000 });
    http.serve('1.2.0', b);
    http.behaviour.throttle = 25;
    await cloud.publishDesired(GW, desiredRelease(GW, 21, releaseBody('1.2.0', b)));
    const first = start(r);
    const part = join(r.stateDir, 'downloads/1.2.0.tgz.part');
    await waitFor(() => existsSync(part) && statSync(part).size >= 200_000, 'part of the download', 60_000, { detail: () => first.output().slice(-1500) });
    await first.kill();
    const kept = statSync(part).size;
    expect(kept).toBeLessThan(b.bytes);
    expect(existsSync(join(r.stateDir, 'switch.state'))).toBe(false);
    expect(readlinkSync(join(r.releasesDir, 'current'))).toBe(RUNNING);
    http.behaviour.throttle = 0;
    const before = http.requests.length;
    const second = start(r);
    await expectSwitched(second, r, 21);
    const resumed = http.requests.slice(before);
    expect(resumed).toHaveLength(1);
    expect(Number(/^bytes=(\d+)-$/.exec(resumed[0]!.range ?? '')?.[1])).toBeGreaterThanOrEqual(kept);
    expect(resumed[0]!.sent).toBeLessThanOrEqual(b.bytes - kept);
  }, 120_000);

  it('during unpack: the partial tree is thrown away and unpacked again from the checked bundle', async () => {
    const r = layRoot(join(dir, 'unpack'), RUNNING);
    const b = buildBundle(dir, '1.2.0', { fillerBytes: 6_000_000, files: 6000 });
    http.serve('1.2.0', b);
    await cloud.publishDesired(GW, desiredRelease(GW, 22, releaseBody('1.2.0', b)));
    const first = start(r);
    const partial = join(r.releasesDir, '1.2.0.partial');
    // Tight polling: the extraction of 6000 files is the window.
    await waitFor(() => existsSync(partial), 'unpack under way', 60_000, { everyMs: 1, detail: () => first.output().slice(-1500) });
    await first.kill();
    expect(existsSync(join(r.stateDir, 'switch.state'))).toBe(false);
    expect(existsSync(join(r.releasesDir, '1.2.0'))).toBe(false);
    const requests = http.requests.length;
    await expectSwitched(start(r), r, 22);
    // The bundle was complete and checked before the kill: not downloaded again.
    expect(http.requests.length).toBe(requests);
  }, 120_000);

  it('during the switch (journal written, link not yet, or link flipped, journal not yet at trial; torn tmp files beside): the restart finishes it', async () => {
    for (const linkFlipped of [false, true]) {
      const r = layRoot(join(dir, `switch-${linkFlipped}`), RUNNING);
      mkdirSync(join(r.releasesDir, '1.2.0/gateway/bin'), { recursive: true });
      writeFileSync(join(r.releasesDir, '1.2.0/bundle-manifest.json'), JSON.stringify({ version: '1.2.0', machine: MACHINE, nodeAbi: ABI }));
      writeFileSync(join(r.releasesDir, '1.2.0/gateway/bin/fieldmesh.js'), '');
      writeFileSync(join(r.stateDir, 'switch.state'), `kind=release\ntarget=1.2.0\nprevious=${RUNNING}\nstep=switch\nattempts=0\nmaxAttempts=2\ndeadlineSec=120\nuplinkWasUp=1\nserial=23\n`);
      // What a kill mid-write leaves beside them: a torn tmp journal, a link made but not renamed.
      writeFileSync(join(r.stateDir, 'switch.state.tmp'), 'kind=rel');
      symlinkSync('9.9.9', join(r.releasesDir, 'current.new'));
      if (linkFlipped) {
        rmSync(join(r.releasesDir, 'current'));
        symlinkSync('1.2.0', join(r.releasesDir, 'current'));
      }
      const requests = http.requests.length;
      await expectSwitched(start(r), r, 23);
      expect(http.requests.length).toBe(requests);
    }
  }, 120_000);
});
