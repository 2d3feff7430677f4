import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedGateway, signedRelease, startFleetCloud, waitFor, type FleetCloud } from './fleet-fixture.js';

/**
 * Rollouts over 20 gateways, each a real MQTT client with its own credential on the real cloud
 * broker, answering its desired state with reported state; the rollout is started over the
 * real HTTP API with an admin token, on a real bundle upload.
 */
describe('rollout over 20 simulated gateways (real broker, real credentials, real HTTP)', () => {
  let cloud: FleetCloud | undefined;
  const gateways: SimulatedGateway[] = [];
  afterEach(async () => {
    for (const g of gateways.splice(0)) await g.close();
    await cloud?.stop();
    cloud = undefined;
  });

  const ids = Array.from({ length: 20 }, (_, i) => `gw-${String(i).padStart(2, '0')}`);

  async function setUp(outcome: (id: string, version: string) => 'adopted' | 'rolled-back'): Promise<{ cloud: FleetCloud; api: (method: string, path: string, body?: unknown) => Promise<{ status: number; json: Record<string, unknown> }> }> {
    const c = (cloud = await startFleetCloud(ids));
    const admin = c.bridge.fleet.parts!.adminTokens.issue('ops', Date.now());
    const base = `http://127.0.0.1:${c.bridge.httpPort}`;
    const api = async (method: string, path: string, body?: unknown) => {
      const raw = body instanceof Buffer;
      const r = await fetch(base + path, { method, headers: { authorization: `Bearer ${admin}`, ...(body !== undefined && !raw ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: raw ? body : JSON.stringify(body) } : {}) });
      return { status: r.status, json: (await r.json()) as Record<string, unknown> };
    };
    for (const v of ['1.0.0', '1.1.0']) {
      const bundle = Buffer.from(`bundle of ${v}`);
      expect((await api('PUT', `/api/fleet/releases/${v}/bundle`, bundle)).status).toBe(201);
      expect((await api('PUT', `/api/fleet/releases/${v}`, signedRelease(c.key, v, bundle))).status).toBe(201);
    }
    // Every gateway first gets a desired state naming what it runs: proof it listens.
    expect((await api('PUT', '/api/fleet/desired', { target: { all: true }, version: '1.0.0' })).status).toBe(200);
    for (const id of ids) gateways.push(await SimulatedGateway.connect(c.bridge.brokerPort, id, c.passwords[id]!, { outcome: (v) => outcome(id, v) }));
    await waitFor(() => gateways.every((g) => g.desired.some((d) => d.release?.body.version === '1.0.0')) && c.bridge.fleet.store.gateways().filter((g) => g.reported).length === 20, 'all 20 gateways reported and got 1.0.0');
    return { cloud: c, api };
  }

  it('30% failing in the first wave stops the rollout after that wave: no gateway outside it ever receives the new version', async () => {
    const failing = new Set(['gw-01', 'gw-04', 'gw-07']);
    const { cloud: c, api } = await setUp((id, v) => (v === '1.1.0' && failing.has(id) ? 'rolled-back' : 'adopted'));
    const created = await api('POST', '/api/fleet/rollouts', { version: '1.1.0', canaryPercent: 50, waves: 2, maxFailurePercent: 20, waveTimeoutSec: 60 });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const id = created.json.id as number;
    expect((created.json.waves as Array<{ members: Array<{ gateway: string }> }>).map((w) => w.members.length)).toEqual([10, 5, 5]);
    const stopped = await waitFor(async () => {
      const r = ((await api('GET', '/api/fleet')).json.rollouts as Array<Record<string, unknown>>).find((x) => x.id === id)!;
      return r.state === 'stopped' ? r : null;
    }, 'rollout stopped');
    expect(stopped.wave).toBe(0);
    expect(stopped.stopReason).toMatch(/^wave 0 \(canary\): 3 of 10 failed \(30%\), over maxFailurePercent 20%/);
    for (const f of failing) expect(stopped.stopReason).toContain(`${f} rolled-back: exited with code 1 before confirming`);
    expect(stopped.progress).toMatchObject({ adopted: 7, failed: 3, reached: 10, total: 20 });
    // The failed gateways' desired goes back to what they run.
    await waitFor(() => [...failing].every((f) => gateways.find((g) => g.id === f)!.desired.at(-1)?.release?.body.version === '1.0.0'), 'failed gateways desired back to 1.0.0');
    const firstWave = new Set(ids.slice(0, 10));
    for (const g of gateways) {
      if (firstWave.has(g.id)) expect(g.versionsSeen(), g.id).toContain('1.1.0');
      else expect(g.versionsSeen(), g.id).toEqual(['1.0.0']);
    }
    expect(gateways.filter((g) => g.running === '1.1.0').map((g) => g.id)).toEqual(ids.slice(0, 10).filter((x) => !failing.has(x)));
    const history = (await api('GET', '/api/fleet/history?limit=1000')).json.events as Array<Record<string, unknown>>;
    expect(history.filter((e) => e.kind === 'rollout').map((e) => e.event).reverse()).toEqual(['created', 'wave-started', 'stopped']);
    expect(history.filter((e) => e.kind === 'update' && e.outcome === 'rolled-back').map((e) => e.gateway).sort()).toEqual([...failing].sort());
    expect(c.bridge.fleet.intake.stats.refused).toBe(0);
    // A stopped rollout hands nothing over: the reached gateways keep their own entries, `all` stays.
    expect(c.bridge.fleet.store.desired('all')!.version).toBe('1.0.0');
    expect(c.bridge.fleet.store.allDesired().filter((e) => e.scope.startsWith('gateway:')).length).toBe(10);
  });

  it('all good: the rollout reaches all 20 gateways wave by wave and ends done', async () => {
    const { cloud: c, api } = await setUp(() => 'adopted');
    const t0 = performance.now();
    const created = await api('POST', '/api/fleet/rollouts', { version: '1.1.0', canaryPercent: 10, waves: 3, maxFailurePercent: 20, waveTimeoutSec: 60 });
    expect(created.status).toBe(201);
    const done = await waitFor(() => c.bridge.fleet.store.rollout(created.json.id as number)?.state === 'done', 'rollout done', 60_000, { everyMs: 5 });
    const ms = performance.now() - t0;
    expect(done).toBe(true);
    expect(gateways.every((g) => g.running === '1.1.0')).toBe(true);
    const r = c.bridge.fleet.store.rollout(created.json.id as number)!;
    expect(r.waves.map((w) => w.length)).toEqual([2, 6, 6, 6]);
    expect(r.waves.flat().every((m) => m.outcome === 'adopted')).toBe(true);
    // Wave order held: no gateway of a later wave got 1.1.0 before the previous wave adopted it.
    const waveStarts = c.bridge.fleet.store.history({ limit: 1000 }).filter((e) => e.kind === 'rollout' && e.detail.event === 'wave-started').map((e) => e.detail.wave);
    expect(waveStarts.reverse()).toEqual([0, 1, 2, 3]);
    // Done: the target moves to the `all` entry and the members' own entries go, so the fleet follows its groups again.
    await waitFor(() => c.bridge.fleet.store.allDesired().every((e) => e.scope === 'all'), 'own entries handed over');
    expect(c.bridge.fleet.store.desired('all')).toMatchObject({ version: '1.1.0', by: `rollout:${r.id}` });
    expect(gateways.every((g) => g.desired.at(-1)?.release?.body.version === '1.1.0')).toBe(true);
    console.log(`[figure] rollout of 1.1.0 over 20 gateways in 4 waves (real broker, MQTT, HTTP): ${ms.toFixed(0)} ms`);
  });

  it('a gateway offline at the start is left out of the waves, and gets the version from the hand-over when it is back', async () => {
    const { cloud: c, api } = await setUp(() => 'adopted');
    const away = gateways.pop()!;
    await away.close();
    await waitFor(async () => ((await api('GET', '/api/fleet')).json.gateways as Array<{ id: string; online: boolean }>).find((g) => g.id === away.id)?.online === false, `${away.id} offline`);
    const created = await api('POST', '/api/fleet/rollouts', { version: '1.1.0', canaryPercent: 10, waves: 3, maxFailurePercent: 20, waveTimeoutSec: 60 });
    expect(created.status).toBe(201);
    const id = created.json.id as number;
    await waitFor(() => c.bridge.fleet.store.rollout(id)?.state === 'done', 'rollout done');
    const r = c.bridge.fleet.store.rollout(id)!;
    expect(r.waves.map((w) => w.length)).toEqual([2, 6, 6, 5]);
    expect(r.waves.flat().map((m) => m.gateway)).not.toContain(away.id);
    const createdEvent = c.bridge.fleet.store.history({ limit: 1000 }).find((e) => e.kind === 'rollout' && e.detail.event === 'created')!;
    expect(createdEvent.detail.offline).toEqual([away.id]);
    const back = await SimulatedGateway.connect(c.bridge.brokerPort, away.id, c.passwords[away.id]!);
    gateways.push(back);
    await waitFor(() => back.running === '1.1.0', 'the gateway that was away adopts 1.1.0 when back');
  });
});
