/**
 * A start on trial (FM_FLEET_TRIAL=1, as the launcher starts a new release) confirms itself only
 * once healthy: loop alive for two watchdog intervals, reading log open, and the uplink connected
 * when it was before the switch, else ingest working. A rolled-back journal is reported once,
 * remembered, and its target never tried again.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../wait-for.js';
import { ABI, MACHINE, buildBundle, desiredRelease, releaseBody, startBundleServer, startCloudBroker, tempRoot } from './fleet-fixture.js';
import { GW_PASSWORD, layRoot, startFleetGateway, type FleetRoot } from './fleet-gateway.js';

const dir = tempRoot();
let cloud: Awaited<ReturnType<typeof startCloudBroker>>;

beforeAll(async () => {
  cloud = await startCloudBroker();
});
afterAll(async () => {
  await cloud.close();
});

/** A port nothing listens on: the uplink's cloud is away. */
async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `mqtt://127.0.0.1:${port}`;
}

/** The state the launcher leaves for a trial start of 1.2.0 (link switched, attempts counted). */
function trialRoot(name: string, uplinkWasUp: boolean): FleetRoot {
  const r = layRoot(join(dir, name), '1.1.0');
  mkdirSync(join(r.releasesDir, '1.2.0/gateway/bin'), { recursive: true });
  writeFileSync(join(r.releasesDir, '1.2.0/bundle-manifest.json'), JSON.stringify({ version: '1.2.0', machine: MACHINE, nodeAbi: ABI }));
  rmSync(join(r.releasesDir, 'current'));
  symlinkSync('1.2.0', join(r.releasesDir, 'current'));
  writeFileSync(join(r.stateDir, 'switch.state'), `kind=release\ntarget=1.2.0\nprevious=1.1.0\nstep=trial\nattempts=1\nmaxAttempts=2\ndeadlineSec=120\nuplinkWasUp=${uplinkWasUp ? 1 : 0}\nserial=9\n`);
  return r;
}

const journal = (r: FleetRoot) => readFileSync(join(r.stateDir, 'switch.state'), 'utf8');

describe('fleet agent on trial', () => {
  it('with the uplink up before: confirms once the loop ran 2 s, the log is open and the uplink connected; reports adopted', async () => {
    const gw = 'gw-trial-up';
    const r = trialRoot('up', true);
    // Older releases from earlier updates, and a half-unpacked one: pruned once confirmed.
    for (const old of ['1.0.0', '0.9.0', '1.0.1.partial']) mkdirSync(join(r.releasesDir, old, 'gateway'), { recursive: true });
    mkdirSync(join(r.releasesDir, 'not-a-release'));
    const started = Date.now();
    const g = await startFleetGateway(r, { gw, brokerUrl: cloud.url, cloudUrl: null, running: '1.2.0', env: { FM_FLEET_TRIAL: '1' } });
    try {
      expect(g.gw.status().fleet).toMatchObject({ trial: true });
      await waitFor(() => journal(r).includes('step=confirmed'), 'journal confirmed', 15_000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
      // Still the launcher's child, but `fieldmesh status` must stop saying ON TRIAL.
      expect(g.gw.status().fleet).toMatchObject({ trial: false });
      // Only the step changed: the launcher's counters stay as it wrote them.
      expect(journal(r)).toBe('kind=release\ntarget=1.2.0\nprevious=1.1.0\nstep=confirmed\nattempts=1\nmaxAttempts=2\ndeadlineSec=120\nuplinkWasUp=1\nserial=9\n');
      expect(readdirSync(r.releasesDir).sort()).toEqual(['1.1.0', '1.2.0', 'current', 'not-a-release']);
      const last = await waitFor(() => cloud.last(gw)?.update?.outcome === 'adopted' && cloud.last(gw), 'adopted reported');
      expect(last.update).toMatchObject({ kind: 'release', target: '1.2.0', step: 'confirm', outcome: 'adopted' });
      expect(last.running.version).toBe('1.2.0');
      expect(g.exitCode()).toBeNull();
    } finally {
      await g.stop();
    }
    // The next steady start reports it adopted again (retained, harmless) and removes the journal.
    const again = await startFleetGateway(r, { gw, brokerUrl: cloud.url, cloudUrl: null, running: '1.2.0' });
    try {
      await waitFor(() => !existsSync(join(r.stateDir, 'switch.state')), 'journal removed at a steady start');
    } finally {
      await again.stop();
    }
  });

  it('with the uplink up before and the cloud away now: does not confirm (the launcher rolls back at its deadline)', async () => {
    const gw = 'gw-trial-away';
    const r = trialRoot('away', true);
    const g = await startFleetGateway(r, { gw, brokerUrl: await deadUrl(), cloudUrl: null, running: '1.2.0', env: { FM_FLEET_TRIAL: '1' } });
    try {
      // Well past the 2 s of loop time: everything but the uplink is there.
      await new Promise((res) => setTimeout(res, 3500));
      expect(journal(r)).toContain('step=trial');
    } finally {
      await g.stop();
    }
  });

  it('does not vouch for what it does not run: a trial of 1.2.0 in a gateway running 1.1.0 never confirms', async () => {
    const gw = 'gw-trial-other';
    const r = trialRoot('other', true);
    const g = await startFleetGateway(r, { gw, brokerUrl: cloud.url, cloudUrl: null, running: '1.1.0', env: { FM_FLEET_TRIAL: '1' } });
    try {
      await waitFor(() => g.gw.status().uplink && (g.gw.status().uplink as { state: string }).state === 'online', 'uplink online');
      await new Promise((res) => setTimeout(res, 3000));
      expect(journal(r)).toContain('step=trial');
    } finally {
      await g.stop();
    }
  });

  it('with the uplink down before: ingest working suffices, the uplink may stay away', async () => {
    const gw = 'gw-trial-down';
    const r = trialRoot('down', false);
    const g = await startFleetGateway(r, { gw, brokerUrl: await deadUrl(), cloudUrl: null, running: '1.2.0', env: { FM_FLEET_TRIAL: '1', WATCHDOG_USEC: '2000000' } });
    try {
      const started = Date.now();
      await waitFor(() => journal(r).includes('step=confirmed'), 'journal confirmed without an uplink', 15_000);
      // Two pings of a 2 s watchdog (one each second).
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
      expect(g.gw.status().uplink).toMatchObject({ state: expect.not.stringMatching(/online/) });
    } finally {
      await g.stop();
    }
  });

  it('acts on no desired state until confirmed, then on the newest', async () => {
    const gw = 'gw-trial-hold';
    const http = await startBundleServer({ user: gw, password: GW_PASSWORD });
    try {
      const r = trialRoot('hold', true);
      const b = buildBundle(dir, '1.3.0');
      http.serve('1.3.0', b);
      await cloud.publishDesired(gw, desiredRelease(gw, 10, releaseBody('1.3.0', b)));
      const g = await startFleetGateway(r, { gw, brokerUrl: cloud.url, cloudUrl: http.url, running: '1.2.0', env: { FM_FLEET_TRIAL: '1' } });
      try {
        await waitFor(() => g.gw.status().uplink && (g.gw.status().uplink as { state: string }).state === 'online', 'uplink online');
        expect(http.requests).toHaveLength(0);
        await waitFor(() => journal(r).includes('step=confirmed'), 'confirmed', 15_000);
        const confirmedAt = Date.now();
        // The launcher must read `confirmed` before a next switch rewrites the journal.
        await waitFor(() => g.exitCode() === 75, 'then the newer release switched to', 20_000);
        expect(Date.now() - confirmedAt).toBeGreaterThanOrEqual(3000);
        expect(http.requests.length).toBeGreaterThan(0);
        expect(journal(r)).toContain('target=1.3.0\nprevious=1.2.0\nstep=trial\n');
      } finally {
        await g.stop();
      }
    } finally {
      await http.close();
    }
  });
});

describe('an unreadable journal', () => {
  it('at a steady start is moved aside (as the launcher ignores it) and updates go on', async () => {
    const gw = 'gw-corrupt';
    const http = await startBundleServer({ user: gw, password: GW_PASSWORD });
    try {
      const r = layRoot(join(dir, 'corrupt'), '1.1.0');
      writeFileSync(join(r.stateDir, 'switch.state'), 'kind=release\ntarget=../../etc\nstep=what\n');
      const b = buildBundle(dir, '1.2.0');
      http.serve('1.2.0', b);
      await cloud.publishDesired(gw, desiredRelease(gw, 60, releaseBody('1.2.0', b)));
      const g = await startFleetGateway(r, { gw, brokerUrl: cloud.url, cloudUrl: http.url });
      try {
        await waitFor(() => g.exitCode() === 75, 'the update went on', 15_000);
        expect(readFileSync(join(r.stateDir, 'switch.state.corrupt'), 'utf8')).toContain('step=what');
        expect(journal(r)).toContain('target=1.2.0\nprevious=1.1.0\nstep=trial\n');
      } finally {
        await g.stop();
      }
    } finally {
      await http.close();
    }
  });
});

describe('a rolled-back journal', () => {
  it('is reported once with the launcher reason, remembered, removed, and its version never fetched again', async () => {
    const gw = 'gw-rolled';
    const http = await startBundleServer({ user: gw, password: GW_PASSWORD });
    try {
      const r = layRoot(join(dir, 'rolled'), '1.1.0');
      writeFileSync(join(r.stateDir, 'switch.state'), 'kind=release\ntarget=1.2.0\nprevious=1.1.0\nstep=rolled-back\nattempts=3\nmaxAttempts=2\ndeadlineSec=120\nuplinkWasUp=1\nserial=4\nreason=exited with code 1 before confirming\n');
      const b = buildBundle(dir, '1.2.0');
      http.serve('1.2.0', b);
      await cloud.publishDesired(gw, desiredRelease(gw, 4, releaseBody('1.2.0', b)));
      const g = await startFleetGateway(r, { gw, brokerUrl: cloud.url, cloudUrl: http.url });
      try {
        const last = await waitFor(() => cloud.last(gw)?.refused.some((x) => x.reason === 'failed-before') && cloud.last(gw), 'failed-before refusal');
        expect(last.update).toMatchObject({ kind: 'release', target: '1.2.0', outcome: 'rolled-back', reason: 'exited with code 1 before confirming' });
        expect(last.refused).toEqual([expect.objectContaining({ kind: 'release', target: '1.2.0', reason: 'failed-before' })]);
        expect(existsSync(join(r.stateDir, 'switch.state'))).toBe(false);
        expect(JSON.parse(readFileSync(join(r.stateDir, 'agent.json'), 'utf8')).failed).toEqual(['1.2.0']);
      } finally {
        await g.stop();
      }
      const reportsBefore = cloud.reported(gw).length;
      const again = await startFleetGateway(r, { gw, brokerUrl: cloud.url, cloudUrl: http.url });
      try {
        await waitFor(() => cloud.reported(gw).length > reportsBefore, 'the second start reported');
        // No second rolled-back outcome, no switch, no download, ever.
        await new Promise((res) => setTimeout(res, 500));
        expect(cloud.reported(gw).slice(reportsBefore).every((s) => s.update === undefined)).toBe(true);
        expect(http.requests).toHaveLength(0);
        expect(again.exitCode()).toBeNull();
      } finally {
        await again.stop();
      }
    } finally {
      await http.close();
    }
  });
});
