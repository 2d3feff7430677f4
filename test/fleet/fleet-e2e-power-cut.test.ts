import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundlesFromCommits, type BundleName, type FleetBundle } from './bundles-from-commits.js';
import { adminToken, gatewayView, setDesired, startFleetCloud, startSandboxGateway, untilRunning, uploadRelease, type FleetCloud, type SandboxGateway } from './fleet-e2e-fixture.js';
import { readJournal } from './journal.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { waitFor } from '../wait-for.js';

/**
 * A power cut (SIGKILL of the whole service) at each step of a real switch, then a boot: every
 * case ends on 1.1.0 adopted, nothing half done left, the download resumed rather than redone.
 * Each cut point is reached by watching files, not by sleeping:
 * - fetch: the download is slowed by a relay (2 MiB/s); cut once the .part holds 2 MiB;
 * - verify: `tar` (the agent's unpack, found through PATH) is held before it starts: cut once
 *   the checked .tgz is there;
 * - unpack: `tar` has run and is held before it exits: the tree is in .partial, not renamed;
 * - switch: the journal is written and current flipped while the old gateway is still stopping;
 * - first start: the launcher's trial of 1.1.0 has started, not confirmed;
 * - confirm: the journal says confirmed, the adopted report may or may not be out.
 */
type Step = 'fetch' | 'verify' | 'unpack' | 'switch' | 'first start' | 'confirm';
const STEPS: Step[] = ['fetch', 'verify', 'unpack', 'switch', 'first start', 'confirm'];
const dir = mkdtempSync(join(tmpdir(), 'fm-e2e-cut-'));
let bundles: Record<BundleName, FleetBundle>;
let cloud: FleetCloud;
let token: string;
const gws: SandboxGateway[] = [];
const proxies: TcpProxy[] = [];

// A tar that holds the agent's unpack (into a .partial directory) before or after the real one.
const shimDir = join(dir, 'shim');
mkdirSync(shimDir);
const realTar = execFileSync('sh', ['-c', 'command -v tar'], { encoding: 'utf8' }).trim();
writeFileSync(
  join(shimDir, 'tar'),
  `#!/bin/sh
case "$*" in *.partial*) ;; *) exec ${realTar} "$@" ;; esac
hold() { : >"$HOLD_DIR/held-$1"; while [ ! -e "$HOLD_DIR/go" ]; do sleep 0.05; done; }
if [ "$HOLD" = before ]; then hold before; fi
${realTar} "$@"
rc=$?
if [ "$HOLD" = after ]; then hold after; fi
exit "$rc"
`,
);
chmodSync(join(shimDir, 'tar'), 0o755);

beforeAll(async () => {
  bundles = await bundlesFromCommits(['base', 'good']);
  cloud = await startFleetCloud(STEPS.map((s) => `gw-cut-${s.replace(' ', '-')}`));
  token = adminToken(cloud);
  await uploadRelease(cloud, token, bundles.good);
}, 600_000);
afterAll(async () => {
  await Promise.all(gws.map((g) => g.stop()));
  await Promise.all(proxies.map((p) => p.close()));
  await cloud?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

const exists = (p: string) => existsSync(p);
const size = (p: string) => (existsSync(p) ? statSync(p).size : 0);

async function cutAt(step: Step): Promise<void> {
  const id = `gw-cut-${step.replace(' ', '-')}`;
  const http = await startTcpProxy(cloud.bridge.httpPort, { rate: step === 'fetch' ? 2 * 2 ** 20 : 0 });
  proxies.push(http);
  const holdDir = join(dir, `hold-${id}`);
  mkdirSync(holdDir);
  const hold = step === 'verify' ? 'before' : step === 'unpack' ? 'after' : '';
  const env: Record<string, string> = hold ? { PATH: `${shimDir}:${process.env.PATH}`, HOLD_DIR: holdDir, HOLD: hold } : {};
  // A deadline with room for a loaded machine: here every trial is of a good release.
  const g = startSandboxGateway(cloud, bundles.base, { id, tmpParent: dir, httpPort: http.port, env, fleet: { confirmDeadlineSec: 40 } });
  gws.push(g);
  const tail = () => g.runner.output.slice(-3000);
  await untilRunning(cloud, token, id, '1.0.0', 60_000, tail);
  // The next boot runs with the plain PATH.
  g.runner.setEnv({ ...g.sb.env, FM_LOG: 'json' });
  const downloads = join(g.sb.fleetDir, 'downloads');
  const partial = join(g.sb.releasesDir, '1.1.0.partial');
  await setDesired(cloud, token, { target: { gateway: id }, version: '1.1.0' });

  const reached: Record<Step, () => boolean> = {
    fetch: () => size(join(downloads, '1.1.0.tgz.part')) >= 2 * 2 ** 20,
    verify: () => exists(join(holdDir, 'held-before')) && exists(join(downloads, '1.1.0.tgz')),
    unpack: () => exists(join(holdDir, 'held-after')) && exists(join(partial, 'bundle-manifest.json')),
    switch: () => readJournal(g.sb.journal)?.target === '1.1.0' && g.runner.current!.exit === undefined && !g.runner.current!.output.includes('trial of release'),
    'first start': () => g.runner.current!.output.includes('trial of release 1.1.0') && readJournal(g.sb.journal)?.step === 'trial',
    confirm: () => readJournal(g.sb.journal)?.step === 'confirmed',
  };
  await waitFor(reached[step], `${id} at ${step}`, 90_000, { everyMs: 2, detail: tail });
  const state = { part: size(join(downloads, '1.1.0.tgz.part')), journal: readJournal(g.sb.journal)?.step ?? null, current: g.sb.current() };
  await g.runner.powerCut();
  http.rate = 0;

  let seen: unknown;
  const view = await waitFor(async () => {
    const v = await gatewayView(cloud, token, id);
    seen = v;
    return v?.running?.version === '1.1.0' && v.update?.outcome === 'adopted' ? v : undefined;
  }, `${id} adopted 1.1.0 after a cut at ${step} (${JSON.stringify(state)})`, 120_000, {
    everyMs: 100,
    detail: () => `cloud sees ${JSON.stringify(seen)}; journal ${JSON.stringify(readJournal(g.sb.journal))}; launcher: ${g.runner.output.split('\n').filter((l) => l.startsWith('fieldmesh-launch')).join(' | ')}; starts ${g.runner.starts.length}`,
  });
  expect(view.update).toMatchObject({ kind: 'release', target: '1.1.0' });
  expect(g.sb.current()).toBe('1.1.0');
  // Steady: no journal, or (the confirmed trial still running under the launcher) `confirmed`,
  // removed at the next steady start.
  const j = readJournal(g.sb.journal);
  expect(j === undefined || (j.step === 'confirmed' && j.target === '1.1.0'), JSON.stringify(j)).toBe(true);
  expect(readdirSync(g.sb.releasesDir).filter((e) => e.includes('partial') || e.endsWith('.new'))).toEqual([]);
  expect(existsSync(join(downloads, '1.1.0.tgz.part'))).toBe(false);
  // Resumed, never fetched twice: the relay saw about one bundle go by (plus MQTT-free HTTP overhead).
  expect(http.bytes.down).toBeLessThan(bundles.good.bytes * 1.2);
  if (step === 'fetch') expect(state.part).toBeLessThan(bundles.good.bytes);
  if (step === 'verify' || step === 'unpack') expect(state.journal).toBeNull();
  if (step === 'switch') expect(state.current === '1.0.0' || state.current === '1.1.0').toBe(true);
}

describe('power cut at every step of a real switch', () => {
  it.concurrent.each(STEPS)('cut at %s: the next boot ends on the new release, adopted', (step) => cutAt(step), 300_000);
});
