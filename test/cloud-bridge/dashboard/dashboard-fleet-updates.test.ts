import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeReported, fleetTopics, signArtifact } from '#protocol/index';
import { releaseBody, report, SimulatedGateway, startFleetCloud, waitFor, type FleetCloud } from '../fleet/fleet-fixture.js';
import { launchBrowser, pageErrors } from './browser.js';

/**
 * The dashboard's Updates panel in the real browser (Debian chromium via playwright-core), fed
 * by a real cloud bridge's GET /api/fleet: per gateway what it runs and what is desired, the
 * last outcome with the gateway's own reason; a rollout stopped by its canary with the reason,
 * one paused part way; hostile text from a gateway shown as text.
 */
describe('dashboard fleet updates panel in a real browser', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it('shows running vs desired, outcomes with reasons, a stopped and a paused rollout with wave progress', async () => {
    const ids = ['gw-a', 'gw-b', 'gw-c', 'gw-d', 'gw-e'];
    const cloud: FleetCloud = await startFleetCloud(ids);
    cleanups.push(() => cloud.stop());
    const base = `http://127.0.0.1:${cloud.bridge.httpPort}`;
    const admin = cloud.bridge.fleet.parts!.adminTokens.issue('ops', Date.now());
    const live = cloud.bridge.live.tokens.issue('wall', Date.now());
    const call = async (method: string, path: string, body?: unknown, raw?: Buffer) => {
      const r = await fetch(base + path, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': raw ? 'application/gzip' : 'application/json' }, ...(raw ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}) });
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
      return r.json() as Promise<Record<string, unknown>>;
    };

    const port = cloud.bridge.brokerPort;
    const pw = cloud.passwords;
    const gws = [
      await SimulatedGateway.connect(port, 'gw-a', pw['gw-a']!, { tags: ['north'], running: '1.1.0' }),
      await SimulatedGateway.connect(port, 'gw-b', pw['gw-b']!, { tags: ['north'], running: '1.1.0', outcome: () => 'silent' }),
      await SimulatedGateway.connect(port, 'gw-c', pw['gw-c']!, { tags: ['south'], running: '1.1.0', outcome: () => 'rolled-back' }),
      await SimulatedGateway.connect(port, 'gw-d', pw['gw-d']!, { tags: ['south'], running: '1.1.0' }),
    ];
    cleanups.push(async () => {
      for (const g of gws) await g.close();
    });
    // gw-e reports a refusal whose text is markup: it must show as text.
    const e = await SimulatedGateway.connect(port, 'gw-e', pw['gw-e']!, { tags: ['east'], running: '1.0.0', outcome: () => 'silent' });
    gws.push(e);
    e.client.publish(
      fleetTopics.reported('gw-e'),
      encodeReported(report('gw-e', { tags: ['east'], running: { version: '1.0.0', configRevision: 3 }, refused: [{ kind: 'release', target: '1.2.0', reason: 'wrong-machine', at: new Date().toISOString(), why: '<img src=x onerror="window.pwned=1"> built for aarch64' }] })),
      { qos: 1, retain: true },
    );

    const bundle = Buffer.alloc(50_000, 9);
    await call('PUT', '/api/fleet/releases/1.2.0/bundle', undefined, bundle);
    await call('PUT', '/api/fleet/releases/1.2.0', signArtifact(releaseBody('1.2.0', bundle), cloud.key));
    await waitFor(async () => ((await call('GET', '/api/fleet')).gateways as Array<{ running: unknown }>).filter((g) => g.running).length === 5, 'five gateways reported');

    // South: canary gw-c rolls back → stopped. North: gw-a adopts at once, gw-b stays silent → paused.
    const south = await call('POST', '/api/fleet/rollouts', { version: '1.2.0', group: 'south', canaryPercent: 50, waves: 1, maxFailurePercent: 0 });
    await waitFor(async () => ((await call('GET', '/api/fleet')).rollouts as Array<{ id: number; state: string }>).find((r) => r.id === south.id)?.state === 'stopped', 'south stopped');
    const north = await call('POST', '/api/fleet/rollouts', { version: '1.2.0', group: 'north', canaryPercent: 50, waves: 1, waveTimeoutSec: 3600 });
    await waitFor(() => gws[1]!.versionsSeen().includes('1.2.0'), 'gw-b in wave 1');
    await call('POST', `/api/fleet/rollouts/${north.id}/pause`, {});

    const b = await launchBrowser();
    cleanups.push(b.close);
    const page: Page = await b.context.newPage();
    const errors = pageErrors(page);
    await page.goto(`${base}/?token=${live}`);
    await page.waitForFunction("Number(document.body.dataset.fleetUpdatesLoaded) >= 1", null, { timeout: 30_000 });

    const row = (id: string) => page.locator(`#fleet-update-rows tr[data-gateway="${id}"]`);
    const cells = async (id: string) => (await row(id).locator('td').allTextContents()).map((t) => t.trim());
    expect(await cells('gw-a')).toEqual(['gw-a', 'north', 'online', '1.2.0 · base config', '=', 'adopted 1.2.0']);
    expect(await cells('gw-b')).toEqual(['gw-b', 'north', 'online', '1.1.0 · base config', '1.2.0 · base config', '—']);
    expect(await row('gw-b').locator('td.desired.pending').count()).toBe(1);
    const c = await cells('gw-c');
    expect(c.slice(0, 4)).toEqual(['gw-c', 'south', 'online', '1.1.0 · base config']);
    expect(c[5]).toBe('rolled-back 1.2.0exited with code 1 before confirming');
    expect(await row('gw-c').getAttribute('data-outcome')).toBe('rolled-back');
    expect((await cells('gw-d'))[4]).toBe('none set'); // the wave after the failed canary was never touched
    const eCells = await cells('gw-e');
    expect(eCells[3]).toBe('1.0.0 · rev 3');
    expect(eCells[5]).toBe('refused release 1.2.0wrong-machine: <img src=x onerror="window.pwned=1"> built for aarch64');
    expect(await page.evaluate('window.pwned')).toBeUndefined();
    expect(await page.locator('#fleet-updates img').count()).toBe(0);

    const stopped = page.locator(`#rollouts li[data-rollout="${south.id}"]`);
    expect(await stopped.getAttribute('data-state')).toBe('stopped');
    expect(await stopped.locator('.wave').textContent()).toBe('canary wave, 1 wave after it');
    expect(await stopped.locator('.counts').textContent()).toBe('0 adopted1 failed0 pending1 not reached');
    expect(await stopped.locator('.stop-reason').textContent()).toMatch(/^stopped: wave 0 \(canary\): 1 of 1 failed \(100%\), over maxFailurePercent 0%: gw-c rolled-back: exited with code 1 before confirming$/);
    const paused = page.locator(`#rollouts li[data-rollout="${north.id}"]`);
    expect(await paused.getAttribute('data-state')).toBe('paused');
    expect(await paused.locator('.rollout-state').textContent()).toBe('paused');
    expect(await paused.locator('.wave').textContent()).toBe('wave 1 of 1');
    expect(await paused.locator('.counts').textContent()).toBe('1 adopted0 failed1 pending');
    expect(await page.locator('#fleet-updates-summary').textContent()).toBe('5 gateways, 1 not yet on desired');

    // Resumed and adopted: the next poll shows it done and gw-b on 1.2.0.
    await call('POST', `/api/fleet/rollouts/${north.id}/resume`, {});
    gws[1]!.running = '1.2.0';
    gws[1]!.publish({ update: { kind: 'release', target: '1.2.0', step: 'confirm', outcome: 'adopted', at: new Date().toISOString() } });
    await waitFor(async () => ((await call('GET', '/api/fleet')).rollouts as Array<{ id: number; state: string }>).find((r) => r.id === north.id)?.state === 'done', 'north done');
    await page.evaluate('fieldmesh.fleetUpdates.reload()');
    await page.waitForSelector(`#rollouts li[data-rollout="${north.id}"][data-state="done"]`, { timeout: 30_000 });
    expect(await cells('gw-b')).toEqual(['gw-b', 'north', 'online', '1.2.0 · base config', '=', 'adopted 1.2.0']);

    const shot = join(tmpdir(), 'fieldmesh-dashboard-fleet-updates.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard screenshot: ${shot}`);
    expect(errors).toEqual([]);
  });
});
