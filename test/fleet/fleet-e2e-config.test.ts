import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signArtifact, type ConfigBody } from '@fieldmesh/protocol';
import { freePort } from '../cloud-bridge/cloud-fixture.js';
import { bundlesFromCommits, type BundleName, type FleetBundle } from './bundles-from-commits.js';
import { adminToken, call, gatewayView, setDesired, startFleetCloud, startSandboxGateway, untilRunning, type FleetCloud, type SandboxGateway } from './fleet-e2e-fixture.js';
import { readJournal } from './journal.js';
import { waitFor } from '../wait-for.js';

/**
 * A config revision with a wrong uplink password: the gateway switches to it, its trial never
 * gets the uplink (which was up), and the launcher rolls it back at the deadline to the base
 * config. A device publishes readings all along (QoS 1, resent by its client across the
 * restarts): each one reaches the cloud exactly once.
 */
const ID = 'gw-cfg';
const DEADLINE_SEC = 10;
const dir = mkdtempSync(join(tmpdir(), 'fm-e2e-cfg-'));
let bundles: Record<BundleName, FleetBundle>;
let cloud: FleetCloud;
let token: string;
let gw: SandboxGateway;
let device: MqttClient;
let brokerPort: number;

beforeAll(async () => {
  bundles = await bundlesFromCommits(['base']);
  cloud = await startFleetCloud([ID]);
  token = adminToken(cloud);
  // The device reconnects to the same port across the gateway's restarts.
  brokerPort = await freePort();
  gw = startSandboxGateway(cloud, bundles.base, {
    id: ID,
    tmpParent: dir,
    fleet: { confirmDeadlineSec: DEADLINE_SEC },
    extra: { broker: { port: brokerPort, host: '127.0.0.1', auth: 'none' } },
  });
  await untilRunning(cloud, token, ID, '1.0.0', 60_000, () => gw.runner.output.slice(-3000));
  await waitFor(async () => (await gatewayView(cloud, token, ID))?.online, 'uplink online', 30_000);
}, 600_000);
afterAll(async () => {
  await device?.endAsync(true);
  await gw?.stop();
  await cloud?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a bad config revision under load', () => {
  it('rolls back within the deadline while readings flow, each reading in the cloud exactly once', async () => {
    device = connect(`mqtt://127.0.0.1:${brokerPort}`, { clientId: 'dev1', reconnectPeriod: 100, connectTimeout: 2000 });
    await new Promise<void>((r) => device.once('connect', () => r()));
    const acked: { seq: number; at: number }[] = [];
    let seq = 0;
    let publishing = true;
    const pump = (async () => {
      while (publishing) {
        const n = ++seq;
        device.publish('fm/d/dev1/senml', JSON.stringify([{ bn: 'dev1/', n: 'seq', v: n }]), { qos: 1 }, (err) => {
          if (!err) acked.push({ seq: n, at: Date.now() });
        });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const body: ConfigBody = { kind: 'config', revision: 2, sections: { uplink: { url: `mqtt://127.0.0.1:${cloud.bridge.brokerPort}`, password: 'not-the-password' } }, createdAt: new Date().toISOString(), note: 'wrong uplink password' };
    const put = await call(cloud, 'PUT', '/api/fleet/configs/2', { token, json: signArtifact(body, cloud.key) });
    expect([200, 201]).toContain(put.status);
    await waitFor(() => acked.length >= 20, 'readings flowing before the switch', 20_000);
    await setDesired(cloud, token, { target: { gateway: ID }, configRevision: 2 });

    const trialAt = await waitFor(() => (gw.runner.output.includes('trial of config 2') ? Date.now() : undefined), 'trial of config 2', 60_000, { everyMs: 20 });
    // The launcher rolls back and execs the base config in the same process: seen in its output.
    const rollbackSeen = waitFor(() => (gw.runner.output.includes('rolling back config 2') ? Date.now() : undefined), 'the launcher rolls back', 60_000, { everyMs: 20 });
    const view = await waitFor(async () => {
      const v = await gatewayView(cloud, token, ID);
      return v?.update?.kind === 'config' && v.update.outcome === 'rolled-back' ? v : undefined;
    }, 'config 2 rolled back', 90_000, { everyMs: 100, detail: () => gw.runner.output.slice(-3000) });
    const rolledBackAt = await rollbackSeen;
    expect(view.update!.reason).toBe(`not healthy within ${DEADLINE_SEC}s`);
    expect(view.running!.configRevision).toBeNull();
    expect(rolledBackAt - trialAt).toBeLessThan((DEADLINE_SEC + 5) * 1000);
    expect(readJournal(gw.sb.journal)).toBeUndefined();
    // Readings were taken during the trial too (the device broker ran; the uplink did not).
    expect(acked.some((a) => a.at > trialAt + 2000 && a.at < rolledBackAt)).toBe(true);

    await waitFor(() => acked.length >= seq - 1 && acked.at(-1)!.at > rolledBackAt + 1000, 'readings acked after the rollback', 30_000);
    publishing = false;
    await pump;
    await waitFor(() => acked.length === seq, 'every reading acked', 30_000, { detail: () => `${acked.length} of ${seq}` });
    const stored = await waitFor(async () => {
      const r = await cloud.bridge.store.readings({ gateway: ID, limit: 100_000 });
      return r.length >= seq ? r : undefined;
    }, `${seq} readings in the cloud`, 60_000, { everyMs: 200, detail: () => `published ${seq}` });
    const values = stored.filter((r) => r.series.endsWith('seq')).map((r) => Number(r.value)).sort((a, b) => a - b);
    expect(values).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    console.error(`config rollback: trial to rollback ${rolledBackAt - trialAt} ms; ${seq} readings, each stored once`);
  }, 300_000);
});
