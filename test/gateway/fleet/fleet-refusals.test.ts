/**
 * Everything the fleet agent must refuse, through a real gateway: retained desired states on a
 * real broker, bundles over real HTTP. Each refusal is reported with its reason, counted in
 * /metrics, and leaves the running release, its link and the gateway untouched.
 */
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RefusalReason } from '#protocol/index';
import { waitFor } from '../../wait-for.js';
import {
  OTHER_KEY,
  buildBundle,
  configBody,
  described,
  desiredRelease,
  rawTarball,
  releaseBody,
  rollbackBody,
  signed,
  startBundleServer,
  startCloudBroker,
  tempRoot,
} from './fleet-fixture.js';
import { GW_PASSWORD, layRoot, startFleetGateway, type FleetRoot } from './fleet-gateway.js';

const GW = 'gw-refuse';
const dir = tempRoot();
let cloud: Awaited<ReturnType<typeof startCloudBroker>>;
let http: Awaited<ReturnType<typeof startBundleServer>>;
let g: Awaited<ReturnType<typeof startFleetGateway>>;
let r: FleetRoot;
let serial = 100;

beforeAll(async () => {
  cloud = await startCloudBroker();
  http = await startBundleServer({ user: GW, password: GW_PASSWORD });
  r = layRoot(join(dir, 'root'));
  // This gateway rolled 1.3.0 back before and used rollback order 5.
  writeFileSync(join(r.stateDir, 'agent.json'), JSON.stringify({ failed: ['1.3.0'], failedConfig: [], rollbackOrder: 5, lastSerial: 0, refused: [] }));
  g = await startFleetGateway(r, { gw: GW, brokerUrl: cloud.url, cloudUrl: http.url, configRevision: 3 });
  await waitFor(() => cloud.last(GW), 'the first reported state');
});
afterAll(async () => {
  await g?.stop();
  await http.close();
  await cloud.close();
});

function refusedCount(reason: RefusalReason): number {
  const m = new RegExp(`^fieldmesh_fleet_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(g.gw.metrics.render());
  return m ? Number(m[1]) : NaN;
}

/** Publishes a desired state (serial +1) and waits for the refusal it must cause. */
async function expectRefused(desired: object | Buffer, kind: string, target: string, reason: RefusalReason, whyLike?: RegExp) {
  const before = refusedCount(reason);
  const payload = Buffer.isBuffer(desired) ? desired : Buffer.from(JSON.stringify({ format: 1, gateway: GW, ...desired, serial: ++serial }));
  await cloud.publishDesired(GW, payload);
  const entry = await waitFor(
    () => cloud.last(GW)?.refused.find((x) => x.kind === kind && x.target === target && x.reason === reason && (!whyLike || whyLike.test(x.why))),
    `refusal ${kind} ${target} ${reason}`,
    15_000,
    { detail: () => JSON.stringify(cloud.last(GW)?.refused.slice(-3)) },
  );
  expect(entry.at).toMatch(/^\d{4}-/);
  expect(refusedCount(reason)).toBe(before + 1);
}

const bundle = () => buildBundle(dir, '1.2.0');

describe('fleet agent refuses', () => {
  it('an unsigned release, one signed by another key, and one altered after signing', async () => {
    const b = bundle();
    const env = desiredRelease(GW, 0, releaseBody('1.2.0', b));
    await expectRefused({ release: { ...env.release, sig: '' }, bundlePath: env.bundlePath }, 'release', '1.2.0', 'unsigned');
    await expectRefused(desiredRelease(GW, 0, releaseBody('1.2.0', b), {}, OTHER_KEY), 'release', '1.2.0', 'wrong-key', /not in fleet\.releaseKeys/);
    await expectRefused({ release: { ...env.release, body: { ...env.release!.body, bytes: b.bytes + 1 } }, bundlePath: env.bundlePath }, 'release', '1.2.0', 'bad-signature');
  });

  it('a downgrade without a rollback order, and a rollback order already used (replay)', async () => {
    const b = bundle();
    await expectRefused(desiredRelease(GW, 0, releaseBody('1.0.0', b)), 'release', '1.0.0', 'downgrade');
    const replay = signed(rollbackBody(5, { version: '1.0.0' }));
    await expectRefused(desiredRelease(GW, 0, releaseBody('1.0.0', b), { rollback: replay }), 'release', '1.0.0', 'replayed-order', /not above 5/);
  });

  it('a version that failed here before, and one built for another machine', async () => {
    const b = bundle();
    await expectRefused(desiredRelease(GW, 0, releaseBody('1.3.0', b)), 'release', '1.3.0', 'failed-before');
    await expectRefused(desiredRelease(GW, 0, releaseBody('1.4.0', b, { machine: 'mips64' })), 'release', '1.4.0', 'wrong-machine', /mips64/);
  });

  it('a path-traversal version and a signed size no bundle has, before any download', async () => {
    const b = bundle();
    const d = desiredRelease(GW, 0, releaseBody('1.2.0', b));
    const evil = { ...d.release, body: { ...d.release!.body, version: '../x' } };
    await expectRefused({ release: evil, bundlePath: '/api/fleet/releases/1.2.0/bundle' }, 'release', '.._x', 'malformed', /MAJOR\.MINOR\.PATCH/);
    const requests = http.requests.length;
    await expectRefused(desiredRelease(GW, 0, releaseBody('1.5.0', { sha256: b.sha256, bytes: 2 ** 39 })), 'release', '1.5.0', 'malformed', /over the \d+-byte limit/);
    expect(http.requests.length).toBe(requests);
  });

  it('a bundle whose hash is not the signed one', async () => {
    const b = bundle();
    http.serve('1.6.0', b);
    const d = desiredRelease(GW, 0, releaseBody('1.6.0', { ...b, sha256: 'ab'.repeat(32) }));
    await expectRefused(d, 'release', '1.6.0', 'hash-mismatch');
    // The same desired state again (a reconnect redelivers it): not downloaded again.
    const fetches = http.requests.length;
    const reports = cloud.reported(GW).length;
    await cloud.publishDesired(GW, Buffer.from(JSON.stringify({ ...d, serial })));
    await waitFor(() => cloud.reported(GW).length > reports, 'the redelivery judged');
    expect(http.requests.length).toBe(fetches);
    expect(refusedCount('hash-mismatch')).toBe(1);
  });

  it('a signed bundle that is no tarball, or has ../ entries, absolute paths or a symlink out of the release', async () => {
    const noise = join(dir, 'noise.tgz');
    writeFileSync(noise, randomBytes(5000));
    const cases: Array<[string, ReturnType<typeof described>, RegExp]> = [
      ['2.0.1', described(noise), /not a gzipped tar/],
      ['2.0.2', rawTarball(dir, [{ name: 'fieldmesh/bundle-manifest.json', data: '{}' }, { name: 'fieldmesh/../../evil.sh', data: 'x' }]), /not inside fieldmesh/],
      ['2.0.3', rawTarball(dir, [{ name: '/etc/evil', data: 'x' }]), /not inside fieldmesh/],
      ['2.0.4', rawTarball(dir, [{ name: 'fieldmesh/', type: '5' }, { name: 'fieldmesh/link', type: '2', link: '../../../../etc' }]), /leaves fieldmesh/],
      ['2.0.5', rawTarball(dir, [{ name: 'fieldmesh/abs', type: '2', link: '/etc/passwd' }]), /absolute/],
      ['2.0.6', rawTarball(dir, [{ name: 'fieldmesh/x', data: 'no manifest' }]), /bundle-manifest\.json/],
    ];
    for (const [v, b, why] of cases) {
      http.serve(v, b);
      await expectRefused(desiredRelease(GW, 0, releaseBody(v, b)), 'release', v, 'malformed', why);
    }
    // Nothing of them was left in the releases directory, and each is remembered as failed.
    expect(readdirSync(r.releasesDir).sort()).toEqual(['1.1.0', 'current']);
    expect(JSON.parse(readFileSync(join(r.stateDir, 'agent.json'), 'utf8')).failed).toEqual(expect.arrayContaining(cases.map(([v]) => v)));
  });

  it('an old config revision, one setting a fixed section, one that makes the config invalid', async () => {
    await expectRefused({ config: signed(configBody(2, { logLevel: 'debug' })) }, 'config', '2', 'old-revision');
    await expectRefused({ config: signed(configBody(4, { dataDir: '/tmp/elsewhere' })) }, 'config', '4', 'section-not-allowed', /dataDir/);
    await expectRefused({ config: signed(configBody(5, { fleet: { releaseKeys: [OTHER_KEY.publicKey] } })) }, 'config', '5', 'section-not-allowed', /fleet/);
    await expectRefused({ config: signed(configBody(6, { broker: { port: 'not a port' } })) }, 'config', '6', 'invalid-config', /broker\.port/);
    await expectRefused({ config: signed(configBody(7, { rules: [{ id: 'r', kind: 'nonsense', series: 'a/b' }] })) }, 'config', '7', 'invalid-config', /rules/);
  });

  it('desired states that are none: oversized, not JSON, for another gateway (counted each time)', async () => {
    await expectRefused(Buffer.alloc(70_000, 0x20), 'release', '-', 'malformed', /over/);
    await expectRefused(Buffer.from('{"format":1,'), 'release', '-', 'malformed', /not JSON/);
    await expectRefused(Buffer.from(JSON.stringify({ format: 1, gateway: 'gw-other', serial: 1 })), 'release', '-', 'malformed', /gw-other/);
  });

  it('through all of it the gateway kept running what it ran', () => {
    expect(g.exitCode()).toBeNull();
    expect(readlinkSync(join(r.releasesDir, 'current'))).toBe('1.1.0');
    expect(g.gw.status().running).toBe(true);
    expect(g.gw.status().fleet).toMatchObject({ running: '1.1.0', configRevision: 3, refused: 10, paused: false, trial: false });
    expect(readdirSync(join(r.stateDir, 'downloads'))).toEqual([]);
    expect(cloud.last(GW)?.running).toEqual({ version: '1.1.0', configRevision: 3 });
    expect(cloud.last(GW)?.refused.length).toBe(10);
  });
});
