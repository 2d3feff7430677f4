import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundlesFromCommits, type BundleName, type FleetBundle } from './bundles-from-commits.js';
import { adminToken, gatewayView, setDesired, startFleetCloud, startSandboxGateway, untilRunning, uploadRelease, type FleetCloud, type SandboxGateway } from './fleet-e2e-fixture.js';
import { readJournal } from './journal.js';
import { waitFor } from '../wait-for.js';

/**
 * The whole path with real parts: bundles built from commits, uploaded to a real cloud bridge
 * over HTTP, desired state over its real broker, gateways laid out by first boot's functions
 * and run by the launcher under the service runner. A good release is adopted; a release that
 * crashes at start and one that never gets its uplink roll back by themselves; the cloud's
 * GET /api/fleet shows each outcome.
 */
const IDS = ['gw-good', 'gw-crash', 'gw-noup'] as const;
const dir = mkdtempSync(join(tmpdir(), 'fm-e2e-'));
let bundles: Record<BundleName, FleetBundle>;
let cloud: FleetCloud;
let token: string;
const gws: Record<string, SandboxGateway> = {};

beforeAll(async () => {
  bundles = await bundlesFromCommits();
  cloud = await startFleetCloud([...IDS]);
  token = adminToken(cloud);
  for (const b of [bundles.good, bundles.crash, bundles.noUplink]) await uploadRelease(cloud, token, b);
  // The no-uplink one shows the deadline (10 s); the others get room for a loaded machine.
  for (const id of IDS) gws[id] = startSandboxGateway(cloud, bundles.base, { id, tmpParent: dir, fleet: { confirmDeadlineSec: id === 'gw-noup' ? 10 : 40 } });
  for (const id of IDS) await untilRunning(cloud, token, id, '1.0.0', 60_000, () => gws[id]!.runner.output.slice(-3000));
}, 600_000);
afterAll(async () => {
  await Promise.all(Object.values(gws).map((g) => g.stop()));
  await cloud?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const tail = (id: string) => () => gws[id]!.runner.output.slice(-4000);

describe('fleet end to end with real bundles', () => {
  it('each gateway runs the first release from the launcher, as first boot left it', async () => {
    for (const id of IDS) {
      const g = gws[id]!;
      expect(g.sb.current()).toBe('1.0.0');
      expect(readlinkSync(join(g.sb.root, 'opt/fieldmesh/app'))).toBe('releases/current');
      expect(g.runner.restarts).toBe(0);
    }
  });

  it('adopts the good release, rolls back the crashing and the uplink-less ones by themselves', async () => {
    const t0 = Date.now();
    await setDesired(cloud, token, { target: { gateway: 'gw-good' }, version: '1.1.0' });
    await setDesired(cloud, token, { target: { gateway: 'gw-crash' }, version: '1.2.0' });
    await setDesired(cloud, token, { target: { gateway: 'gw-noup' }, version: '1.3.0' });

    const good = await waitFor(async () => {
      const g = await gatewayView(cloud, token, 'gw-good');
      return g?.update?.outcome === 'adopted' && g.running?.version === '1.1.0' ? g : undefined;
    }, 'gw-good adopted 1.1.0', 90_000, { everyMs: 100, detail: tail('gw-good') });
    const adoptedMs = Date.now() - t0;
    expect(good.update).toMatchObject({ kind: 'release', target: '1.1.0', outcome: 'adopted' });
    expect(gws['gw-good']!.sb.current()).toBe('1.1.0');

    const crash = await waitFor(async () => {
      const g = await gatewayView(cloud, token, 'gw-crash');
      return g?.update?.outcome === 'rolled-back' ? g : undefined;
    }, 'gw-crash rolled back', 90_000, { everyMs: 100, detail: tail('gw-crash') });
    expect(crash.update!.reason).toMatch(/exited with code \d+ before confirming/u);
    expect(crash.running!.version).toBe('1.0.0');
    expect(gws['gw-crash']!.sb.current()).toBe('1.0.0');

    const noup = await waitFor(async () => {
      const g = await gatewayView(cloud, token, 'gw-noup');
      return g?.update?.outcome === 'rolled-back' ? g : undefined;
    }, 'gw-noup rolled back', 120_000, { everyMs: 100, detail: tail('gw-noup') });
    expect(noup.update!.reason).toBe('not healthy within 10s');
    expect(noup.running!.version).toBe('1.0.0');
    console.error(`adopted in ${adoptedMs} ms; rollbacks after ${Date.now() - t0} ms`);
  }, 300_000);

  it('never retries a rolled-back release, and every gateway ends steady (journal reported and removed)', async () => {
    for (const id of ['gw-crash', 'gw-noup']) {
      await waitFor(() => readJournal(gws[id]!.sb.journal) === undefined, `${id} journal reported and removed`, 20_000, { detail: tail(id) });
    }
    const before = gws['gw-crash']!.runner.starts.length;
    // A new desired serial for the same failed version: judged, not fetched again.
    await setDesired(cloud, token, { target: { gateway: 'gw-crash' }, version: '1.2.0' });
    const g = await waitFor(async () => {
      const v = await gatewayView(cloud, token, 'gw-crash');
      return v?.refused.some((r) => r.reason === 'failed-before' && r.target === '1.2.0') ? v : undefined;
    }, 'failed-before refusal', 30_000, { everyMs: 100, detail: tail('gw-crash') });
    expect(g.running!.version).toBe('1.0.0');
    expect(gws['gw-crash']!.runner.starts.length).toBe(before);
  }, 60_000);
});
