/**
 * Config revisions: adopted like releases (envelope written, journal, config/current flipped,
 * exit 75), then started by the real CLI with --config-overlay, checked again at start. And
 * signed rollback orders: a downgrade they name is adopted once, and the order used up.
 */
import { readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../wait-for.js';
import { buildBundle, configBody, desiredRelease, releaseBody, rollbackBody, signed, startBundleServer, startCloudBroker, tempRoot } from './fleet-fixture.js';
import { GW_PASSWORD, layRoot, startFleetGateway, type FleetRoot } from './fleet-gateway.js';
import { runGateway, writeGatewayYaml, type GatewayProcess } from './fleet-process.js';

const dir = tempRoot();
let cloud: Awaited<ReturnType<typeof startCloudBroker>>;
const children: GatewayProcess[] = [];

beforeAll(async () => {
  cloud = await startCloudBroker();
});
afterAll(async () => {
  for (const c of children) await c.kill();
  await cloud.close();
});

const journal = (r: FleetRoot) => readFileSync(join(r.stateDir, 'switch.state'), 'utf8');

async function stopChild(c: GatewayProcess): Promise<number | null> {
  c.child.kill('SIGTERM');
  return c.exited;
}

describe('a config revision', () => {
  const gw = 'gw-config';
  let r: FleetRoot;
  let yaml: string;
  const sections = { logLevel: 'debug', storage: { policy: 'drop-oldest' } };

  it('is adopted: envelope written, journal at trial with previous=base, config/current flipped, exit 75', async () => {
    r = layRoot(join(dir, 'config'));
    await cloud.publishDesired(gw, { format: 1, gateway: gw, serial: 31, config: signed(configBody(4, sections)) });
    const g = await startFleetGateway(r, { gw, brokerUrl: cloud.url, cloudUrl: null });
    try {
      await waitFor(() => g.exitCode() === 75, 'exit 75', 15_000);
      expect(readlinkSync(join(r.stateDir, 'config/current'))).toBe('4.json');
      expect(JSON.parse(readFileSync(join(r.stateDir, 'config/4.json'), 'utf8')).body).toMatchObject({ kind: 'config', revision: 4, sections });
      expect(journal(r)).toBe('kind=config\ntarget=4\nprevious=base\nstep=trial\nattempts=0\nmaxAttempts=2\ndeadlineSec=120\nuplinkWasUp=1\nserial=31\n');
      expect(readlinkSync(join(r.releasesDir, 'current'))).toBe('1.1.0');
      expect(cloud.last(gw)?.update).toMatchObject({ kind: 'config', target: 4, step: 'switch', outcome: 'in-progress' });
    } finally {
      await g.stop();
    }
  });

  it('runs through --config-overlay on trial: verified, applied over the base, confirmed, reported as the running revision', async () => {
    yaml = writeGatewayYaml(r, { gw, brokerUrl: cloud.url, cloudUrl: null });
    const c = runGateway(['--config', yaml, '--config-overlay', join(r.stateDir, 'config/current')], { FM_FLEET_TRIAL: '1' });
    children.push(c);
    await waitFor(() => journal(r).includes('step=confirmed'), 'trial confirmed', 60_000, { detail: () => c.output().slice(-1500) });
    await waitFor(() => cloud.last(gw)?.running.configRevision === 4 && cloud.last(gw)?.update?.outcome === 'adopted', 'revision 4 reported running and adopted');
    // The overlay's logLevel is in force: pino debug lines (level 20) in the output.
    expect(c.output()).toMatch(/"level":20/);
    expect(await stopChild(c)).toBe(0);
  }, 90_000);

  it('altered on disk after signing: a trial start fails (the launcher rolls back); a steady start runs on the base config', async () => {
    const file = join(r.stateDir, 'config/4.json');
    const env = JSON.parse(readFileSync(file, 'utf8'));
    env.body.sections.logLevel = 'trace';
    writeFileSync(file, JSON.stringify(env));
    const overlay = ['--config', yaml, '--config-overlay', join(r.stateDir, 'config/current')];
    const trial = runGateway(overlay, { FM_FLEET_TRIAL: '1' });
    children.push(trial);
    const code = await trial.exited;
    expect(code).not.toBe(0);
    expect(code).not.toBe(75);
    expect(trial.output()).toMatch(/FM_ERR_FLEET_OVERLAY/);
    expect(trial.output()).toMatch(/bad-signature/);
    const steady = runGateway(overlay);
    children.push(steady);
    await waitFor(() => /config overlay refused; running on the base config/.test(steady.output()), 'overlay refused and logged', 60_000, { detail: () => steady.output().slice(-1500) });
    await waitFor(() => cloud.last(gw)?.running.configRevision === null, 'the base config reported running');
    // The confirmed journal of revision 4 is not reported adopted by a gateway that does not run it.
    expect(cloud.last(gw)?.update?.outcome).not.toBe('adopted');
    expect(steady.output()).toMatch(/bad-signature/);
    expect(await stopChild(steady)).toBe(0);
  }, 120_000);
});

describe('a signed rollback order', () => {
  it('permits the config revision it names, once: adopted below the running one, the order remembered', async () => {
    const gw = 'gw-rb-config';
    const r = layRoot(join(dir, 'rb-config'));
    const rb = signed(rollbackBody(7, { configRevision: 5 }));
    await cloud.publishDesired(gw, { format: 1, gateway: gw, serial: 40, config: signed(configBody(5, { logLevel: 'warn' })), rollback: rb });
    const g = await startFleetGateway(r, { gw, brokerUrl: cloud.url, cloudUrl: null, configRevision: 6 });
    try {
      await waitFor(() => g.exitCode() === 75, 'exit 75', 15_000);
      expect(journal(r)).toContain('kind=config\ntarget=5\nprevious=6\nstep=trial\n');
      expect(JSON.parse(readFileSync(join(r.stateDir, 'agent.json'), 'utf8')).rollbackOrder).toBe(7);
    } finally {
      await g.stop();
    }
  });

  it('permits the release it names, once; the same order again is a replay', async () => {
    const gw = 'gw-rb-release';
    const http = await startBundleServer({ user: gw, password: GW_PASSWORD });
    try {
      const r = layRoot(join(dir, 'rb-release'), '1.1.0');
      const b = buildBundle(dir, '1.0.0');
      http.serve('1.0.0', b);
      const rb = signed(rollbackBody(3, { version: '1.0.0' }));
      await cloud.publishDesired(gw, desiredRelease(gw, 50, releaseBody('1.0.0', b), { rollback: rb }));
      const g = await startFleetGateway(r, { gw, brokerUrl: cloud.url, cloudUrl: http.url });
      try {
        await waitFor(() => g.exitCode() === 75, 'exit 75', 15_000);
        expect(readlinkSync(join(r.releasesDir, 'current'))).toBe('1.0.0');
        expect(journal(r)).toContain('target=1.0.0\nprevious=1.1.0\nstep=trial\n');
      } finally {
        await g.stop();
      }
      // Later back on 1.1.0 (rolled forward again, steady): the same order may not take it down again.
      rmSync(join(r.stateDir, 'switch.state'));
      rmSync(join(r.releasesDir, 'current'));
      symlinkSync('1.1.0', join(r.releasesDir, 'current'));
      const again = await startFleetGateway(r, { gw, brokerUrl: cloud.url, cloudUrl: http.url });
      try {
        const last = await waitFor(() => cloud.last(gw)?.refused.find((x) => x.reason === 'replayed-order'), 'replay refused');
        expect(last).toMatchObject({ kind: 'release', target: '1.0.0' });
        expect(again.exitCode()).toBeNull();
      } finally {
        await again.stop();
      }
    } finally {
      await http.close();
    }
  });
});
