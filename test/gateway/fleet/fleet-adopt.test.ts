/**
 * A signed release in the retained desired state, end to end inside one real gateway: fetched
 * over real HTTP (resumed with Range when a part is there), hash-checked, unpacked with tar,
 * the journal and link switched exactly as the launcher expects, reported, and exit 75 asked.
 */
import { existsSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../wait-for.js';
import { buildBundle, desiredRelease, releaseBody, startBundleServer, startCloudBroker, tempRoot } from './fleet-fixture.js';
import { GW_PASSWORD, layRoot, startFleetGateway } from './fleet-gateway.js';

let cloud: Awaited<ReturnType<typeof startCloudBroker>>;
let http: Awaited<ReturnType<typeof startBundleServer>>;
const dir = tempRoot();

beforeAll(async () => {
  cloud = await startCloudBroker();
  http = await startBundleServer({ user: 'gw-adopt', password: GW_PASSWORD });
});
afterAll(async () => {
  await http.close();
  await cloud.close();
});

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('fleet agent: adopting a release', () => {
  it('fetches, verifies, unpacks, writes the journal, flips current, reports switch and asks for exit 75', async () => {
    const gwId = 'gw-adopt';
    const r = layRoot(join(dir, 'adopt'));
    const bundle = buildBundle(dir, '1.2.0');
    http.serve('1.2.0', bundle);
    await cloud.publishDesired(gwId, desiredRelease(gwId, 7, releaseBody('1.2.0', bundle)));
    const g = await startFleetGateway(r, { gw: gwId, brokerUrl: cloud.url, cloudUrl: http.url });
    try {
      await waitFor(() => g.exitCode() === 75, 'exit 75 requested', 20_000);
      expect(readlinkSync(join(r.releasesDir, 'current'))).toBe('1.2.0');
      expect(JSON.parse(readFileSync(join(r.releasesDir, '1.2.0/bundle-manifest.json'), 'utf8')).version).toBe('1.2.0');
      expect(existsSync(join(r.releasesDir, '1.2.0.partial'))).toBe(false);
      expect(existsSync(join(r.releasesDir, '1.1.0/bundle-manifest.json'))).toBe(true);
      expect(readFileSync(join(r.stateDir, 'switch.state'), 'utf8')).toBe(
        'kind=release\ntarget=1.2.0\nprevious=1.1.0\nstep=trial\nattempts=0\nmaxAttempts=2\ndeadlineSec=120\nuplinkWasUp=1\nserial=7\n',
      );
      // The download was hash-checked and is removed once switched; the part never stays.
      expect(existsSync(join(r.stateDir, 'downloads/1.2.0.tgz.part'))).toBe(false);
      const last = await waitFor(() => cloud.last(gwId)?.update?.step === 'switch' && cloud.last(gwId), 'reported switch');
      expect(last.update).toMatchObject({ kind: 'release', target: '1.2.0', step: 'switch', outcome: 'in-progress', bytes: bundle.bytes });
      expect(last).toMatchObject({ gateway: gwId, tags: ['north'], running: { version: '1.1.0', configRevision: null }, desiredSerial: 7, refused: [] });
      // The steps on the way were reported too, in order.
      const steps = cloud.reported(gwId).map((s) => s.update?.step).filter((s) => s !== undefined);
      expect(steps.indexOf('fetch')).toBeLessThan(steps.indexOf('unpack'));
      expect(steps.indexOf('unpack')).toBeLessThan(steps.indexOf('switch'));
      expect(http.requests.filter((q) => q.url === '/api/fleet/releases/1.2.0/bundle').every((q) => q.auth)).toBe(true);
      const text = g.gw.metrics.render();
      expect(metric(text, 'fieldmesh_fleet_download_bytes_total')).toBe(bundle.bytes);
      expect(metric(text, 'fieldmesh_fleet_switches_total')).toBe(1);
    } finally {
      await g.stop();
    }
  });

  it('resumes a half-downloaded part with Range and moves only the rest', async () => {
    const gwId = 'gw-resume';
    const http2 = await startBundleServer({ user: gwId, password: GW_PASSWORD });
    try {
      const r = layRoot(join(dir, 'resume'));
      const bundle = buildBundle(dir, '1.2.0', { fillerBytes: 400_000 });
      http2.serve('1.2.0', bundle);
      const half = Math.floor(bundle.bytes / 2);
      writeFileSync(join(r.stateDir, 'downloads/1.2.0.tgz.part'), readFileSync(bundle.file).subarray(0, half), { flag: 'w' });
      await cloud.publishDesired(gwId, desiredRelease(gwId, 3, releaseBody('1.2.0', bundle)));
      const g = await startFleetGateway(r, { gw: gwId, brokerUrl: cloud.url, cloudUrl: http2.url });
      try {
        await waitFor(() => g.exitCode() === 75, 'exit 75 requested', 20_000);
        expect(http2.requests).toHaveLength(1);
        expect(http2.requests[0]!.range).toBe(`bytes=${half}-`);
        expect(http2.requests[0]!.sent).toBe(bundle.bytes - half);
        expect(metric(g.gw.metrics.render(), 'fieldmesh_fleet_download_bytes_total')).toBe(bundle.bytes - half);
        expect(cloud.last(gwId)?.update).toMatchObject({ step: 'switch', bytes: bundle.bytes - half });
        expect(readlinkSync(join(r.releasesDir, 'current'))).toBe('1.2.0');
      } finally {
        await g.stop();
      }
    } finally {
      await http2.close();
    }
  });

  it('a connection cut mid-download keeps the part; the retry resumes from where it ended', async () => {
    const gwId = 'gw-cut';
    const http3 = await startBundleServer({ user: gwId, password: GW_PASSWORD });
    try {
      const r = layRoot(join(dir, 'cut'));
      const bundle = buildBundle(dir, '1.2.0', { fillerBytes: 400_000 });
      http3.serve('1.2.0', bundle);
      http3.behaviour.cutAfter = 100_000;
      await cloud.publishDesired(gwId, desiredRelease(gwId, 1, releaseBody('1.2.0', bundle)));
      const g = await startFleetGateway(r, { gw: gwId, brokerUrl: cloud.url, cloudUrl: http3.url, retryMs: 100 });
      try {
        // The first cuts are reported as a download under way with why, not refusals; one that
        // keeps failing (3 in a row) is a fetch-failed refusal, and still retried.
        const cut = await waitFor(() => cloud.reported(gwId).find((x) => x.update?.reason?.includes('retrying')), 'the cut reported');
        expect(cut.update).toMatchObject({ step: 'fetch', outcome: 'in-progress', reason: expect.stringMatching(/resumes from there/) });
        expect(cut.refused).toEqual([]);
        await waitFor(() => cloud.last(gwId)?.refused.some((x) => x.reason === 'fetch-failed' && x.target === '1.2.0'), 'fetch-failed after 3 in a row');
        expect(statSync(join(r.stateDir, 'downloads/1.2.0.tgz.part')).size).toBeGreaterThanOrEqual(100_000);
        http3.behaviour.cutAfter = Infinity;
        await waitFor(() => g.exitCode() === 75, 'exit 75 after the retry', 20_000);
        // Each attempt asked for the rest only: the starts grow, none went back to 0.
        const ranges = http3.requests.map((q) => q.range);
        expect(ranges[0]).toBeUndefined();
        const starts = ranges.slice(1).map((x) => Number(/^bytes=(\d+)-$/.exec(x ?? '')?.[1]));
        expect(starts.length).toBeGreaterThanOrEqual(3);
        for (let i = 0; i < starts.length; i++) expect(starts[i]).toBeGreaterThan(i === 0 ? 0 : starts[i - 1]!);
        // What was written across the attempts is the bundle, once.
        expect(metric(g.gw.metrics.render(), 'fieldmesh_fleet_download_bytes_total')).toBe(bundle.bytes);
        // Adopted in the end: the refusal of this target is history.
        await waitFor(() => cloud.last(gwId)?.update?.step === 'switch', 'switch reported');
        expect(cloud.last(gwId)?.refused).toEqual([]);
      } finally {
        await g.stop();
      }
    } finally {
      await http3.close();
    }
  });
});
