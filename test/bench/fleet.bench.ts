import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundlesFromCommits } from '../fleet/bundles-from-commits.js';
import { adminToken, gatewayView, setDesired, startFleetCloud, startSandboxGateway, untilRunning, uploadRelease, type SandboxGateway } from '../fleet/fleet-e2e-fixture.js';
import { startTcpProxy, type TcpProxy } from '../fleet/tcp-proxy.js';
import { waitFor } from '../wait-for.js';
import type { BenchRow } from './harness.js';

/**
 * Fleet updates end to end on this machine: real bundles (built from commits), a real cloud
 * bridge, gateways in sandbox roots run by the launcher under the test service runner. From the
 * HTTP PUT of the desired state (what `fieldmesh fleet set-version` does after its upload) to
 * every gateway reporting the new release adopted; to a bad release rolled back; and the bytes
 * each gateway moved for one update (HTTP and MQTT, counted by a relay in front of the cloud).
 */
const FLEET = 3;

export default async (): Promise<BenchRow[]> => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-fleet-'));
  const rows: BenchRow[] = [];
  const ids = [...Array.from({ length: FLEET }, (_, i) => `gw-b${i}`), 'gw-bcrash', 'gw-bnoup'];
  const bundles = await bundlesFromCommits();
  const cloud = await startFleetCloud(ids);
  const token = adminToken(cloud);
  const gws: SandboxGateway[] = [];
  const relays = new Map<string, { http: TcpProxy; mqtt: TcpProxy }>();
  try {
    for (const b of [bundles.good, bundles.crash, bundles.noUplink]) await uploadRelease(cloud, token, b);
    for (const id of ids) {
      const r = { http: await startTcpProxy(cloud.bridge.httpPort), mqtt: await startTcpProxy(cloud.bridge.brokerPort) };
      relays.set(id, r);
      gws.push(startSandboxGateway(cloud, bundles.base, { id, tmpParent: dir, httpPort: r.http.port, brokerPort: r.mqtt.port }));
    }
    for (const id of ids) await untilRunning(cloud, token, id, '1.0.0', 120_000);
    await waitFor(async () => (await Promise.all(ids.map((id) => gatewayView(cloud, token, id)))).every((v) => v?.online), 'all online', 60_000);
    const load = loadavg()[0]!.toFixed(2);
    const mark = new Map([...relays].map(([id, r]) => [id, r.http.bytes.down + r.http.bytes.up + r.mqtt.bytes.down + r.mqtt.bytes.up]));

    const t0 = performance.now();
    for (let i = 0; i < FLEET; i++) await setDesired(cloud, token, { target: { gateway: `gw-b${i}` }, version: '1.1.0' });
    await setDesired(cloud, token, { target: { gateway: 'gw-bcrash' }, version: '1.2.0' });
    await setDesired(cloud, token, { target: { gateway: 'gw-bnoup' }, version: '1.3.0' });
    const done = new Map<string, number>();
    await waitFor(async () => {
      for (const id of ids) {
        if (done.has(id)) continue;
        const v = await gatewayView(cloud, token, id);
        const o = v?.update?.outcome;
        if (o === 'adopted' || o === 'rolled-back') done.set(id, performance.now() - t0);
      }
      return done.size === ids.length;
    }, 'every gateway done', 240_000, { everyMs: 100 });
    const fleetMs = Math.max(...Array.from({ length: FLEET }, (_, i) => done.get(`gw-b${i}`)!));
    rows.push({ name: `PUT desired to ${FLEET} gateways running the new release (adopted, from ${(bundles.good.bytes / 2 ** 20).toFixed(1)} MiB bundle)`, value: fleetMs / 1000, unit: 's', anchor: `load ${load}` });
    rows.push({ name: 'PUT desired to a crashing release rolled back (reported)', value: done.get('gw-bcrash')! / 1000, unit: 's' });
    rows.push({ name: 'PUT desired to a release without uplink rolled back (confirmDeadlineSec 10)', value: done.get('gw-bnoup')! / 1000, unit: 's' });
    const moved = (id: string) => {
      const r = relays.get(id)!;
      return r.http.bytes.down + r.http.bytes.up + r.mqtt.bytes.down + r.mqtt.bytes.up - mark.get(id)!;
    };
    rows.push({ name: 'bytes moved per gateway for one update (HTTP + MQTT)', value: moved('gw-b0') / 2 ** 20, unit: 'MiB', anchor: `bundle ${(bundles.good.bytes / 2 ** 20).toFixed(2)} MiB` });
    rows.push({ name: '  of which MQTT (desired, reported, uplink traffic in the window)', value: (relays.get('gw-b0')!.mqtt.bytes.down + relays.get('gw-b0')!.mqtt.bytes.up) / 1024, unit: 'KiB' });
    rows.push({ name: 'one bundle build (buildBundle, 0 = cached)', value: Math.max(...Object.values(bundles).map((b) => b.buildSeconds)), unit: 's' });
    rows.push({ name: 'load average (1 min) after the run', value: loadavg()[0]!, unit: '' });
    return rows;
  } finally {
    await Promise.all(gws.map((g) => g.stop()));
    for (const r of relays.values()) await Promise.all([r.http.close(), r.mqtt.close()]);
    await cloud.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};
