import { mkdtempSync, openSync, readSync, rmSync, writeSync, closeSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateReleaseKey, signArtifact, type RollbackBody } from '@fieldmesh/protocol';
import { bundlesFromCommits, type BundleName, type FleetBundle } from './bundles-from-commits.js';
import { adminToken, gatewayView, setDesired, startFleetCloud, startSandboxGateway, untilRunning, uploadRelease, type FleetCloud, type GatewayView, type SandboxGateway } from './fleet-e2e-fixture.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { waitFor } from '../wait-for.js';

/**
 * What a gateway refuses, end to end, and reports to the cloud: a release signed by a key it
 * does not trust, a bundle altered on the cloud's disk after upload, a downgrade without a
 * signed rollback order, and rollback orders replayed after a newer one was used. The cloud
 * checks no signatures here (fleet.releaseKeys empty: shape only), so every refusal is the
 * gateway's own. The gateway starts on 1.1.0 (first boot from the good bundle).
 */
const ID = 'gw-ref';
const dir = mkdtempSync(join(tmpdir(), 'fm-e2e-ref-'));
let bundles: Record<BundleName, FleetBundle>;
let cloud: FleetCloud;
let token: string;
let gw: SandboxGateway;
let http: TcpProxy;

beforeAll(async () => {
  bundles = await bundlesFromCommits();
  cloud = await startFleetCloud([ID], { fleet: { releaseKeys: [] } });
  token = adminToken(cloud);
  http = await startTcpProxy(cloud.bridge.httpPort);
  gw = startSandboxGateway(cloud, bundles.good, { id: ID, tmpParent: dir, httpPort: http.port, fleet: { confirmDeadlineSec: 40 } });
  await untilRunning(cloud, token, ID, '1.1.0', 60_000, () => gw.runner.output.slice(-3000));
}, 600_000);
afterAll(async () => {
  await gw?.stop();
  await http?.close();
  await cloud?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const tail = () => gw.runner.output.slice(-3000);
async function refusal(target: string, reason: string): Promise<GatewayView> {
  let last: GatewayView | undefined;
  return waitFor(async () => {
    const v = (last = await gatewayView(cloud, token, ID));
    return v?.refused.some((r) => r.target === target && r.reason === reason) ? v : undefined;
  }, `${ID} refuses ${target} as ${reason}`, 60_000, { everyMs: 100, detail: () => `${JSON.stringify(last)}\n${tail()}` });
}

describe('refused and reported, end to end', () => {
  it('a release signed by an untrusted key: refused before any download', async () => {
    const before = http.bytes.down;
    await uploadRelease(cloud, token, bundles.crash, generateReleaseKey());
    await setDesired(cloud, token, { target: { gateway: ID }, version: '1.2.0' });
    const v = await refusal('1.2.0', 'wrong-key');
    expect(v.running!.version).toBe('1.1.0');
    expect(http.bytes.down - before).toBeLessThan(100_000);
    expect(existsSync(join(gw.sb.releasesDir, '1.2.0'))).toBe(false);
    expect(gw.runner.restarts).toBe(0);
  });

  it('a bundle altered on the cloud after upload: downloaded, hash-checked, refused, never unpacked', async () => {
    await uploadRelease(cloud, token, bundles.noUplink);
    // One byte flipped in the stored tarball (same length: only the hash tells).
    const stored = join(cloud.dir, 'fleet/releases/1.3.0.tgz');
    const fd = openSync(stored, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, 5000);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, 5000);
    closeSync(fd);
    await setDesired(cloud, token, { target: { gateway: ID }, version: '1.3.0' });
    const v = await refusal('1.3.0', 'hash-mismatch');
    expect(v.running!.version).toBe('1.1.0');
    expect(existsSync(join(gw.sb.releasesDir, '1.3.0'))).toBe(false);
    expect(gw.sb.current()).toBe('1.1.0');
    expect(gw.runner.restarts).toBe(0);
  });

  it('a downgrade without a signed rollback order: refused; with one: done; replayed orders: refused', async () => {
    await uploadRelease(cloud, token, bundles.base);
    await uploadRelease(cloud, token, bundles.good);
    await setDesired(cloud, token, { target: { gateway: ID }, version: '1.0.0' });
    expect((await refusal('1.0.0', 'downgrade')).running!.version).toBe('1.1.0');

    const order = (n: number) => signArtifact<RollbackBody>({ kind: 'rollback', order: n, version: '1.0.0', createdAt: new Date().toISOString(), note: `e2e order ${n}` }, cloud.key);
    const captured = order(1);
    await setDesired(cloud, token, { target: { gateway: ID }, version: '1.0.0', rollback: order(2) });
    await untilRunning(cloud, token, ID, '1.0.0', 90_000, tail);
    expect(gw.sb.current()).toBe('1.0.0');
    // Up again (no order needed), then the old orders come back.
    await setDesired(cloud, token, { target: { gateway: ID }, version: '1.1.0' });
    await untilRunning(cloud, token, ID, '1.1.0', 90_000, tail);
    await setDesired(cloud, token, { target: { gateway: ID }, version: '1.0.0', rollback: captured });
    expect((await refusal('1.0.0', 'replayed-order')).running!.version).toBe('1.1.0');
    await setDesired(cloud, token, { target: { gateway: ID }, version: '1.0.0', rollback: order(2) });
    const serial = (await gatewayView(cloud, token, ID))!.desired.serial;
    // Seen (its serial acknowledged) and refused like order 1; the refusal entry for this target stays.
    const seen = await waitFor(async () => {
      const v = await gatewayView(cloud, token, ID);
      return v?.desiredSerial === serial ? v : undefined;
    }, `order 2 replay seen (serial ${serial})`, 60_000, { everyMs: 100, detail: tail });
    expect(seen.running!.version).toBe('1.1.0');
    expect(seen.refused.some((r) => r.reason === 'replayed-order' && r.target === '1.0.0')).toBe(true);
    expect(gw.sb.current()).toBe('1.1.0');
  }, 300_000);
});
