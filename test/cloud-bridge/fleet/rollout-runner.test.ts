import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, silentLogger } from '@fieldmesh/device-sdk';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import { encodeReported, generateReleaseKey, parseDesired, signArtifact, type ReportedState } from '@fieldmesh/protocol';
import { FleetService } from '#cloud-bridge/fleet/fleet-service';
import { RolloutRunner } from '#cloud-bridge/fleet/rollout-runner';
import { memberOutcome, overCutoff, planWaves } from '#cloud-bridge/fleet/rollout-waves';
import { SqliteFleetStore } from '#cloud-bridge/fleet/sqlite-fleet-store';
import { tempDir } from '../cloud-fixture.js';
import { report, signedRelease } from './fleet-fixture.js';

describe('rollout waves', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `gw-${String(i).padStart(2, '0')}`);

  it('canary = ceil(canary% · N), at least one; the rest split as evenly as can be; empty waves left out', () => {
    expect(planWaves(ids(20), { canaryPercent: 10, waves: 3 }).map((w) => w.length)).toEqual([2, 6, 6, 6]);
    expect(planWaves(ids(20), { canaryPercent: 50, waves: 2 }).map((w) => w.length)).toEqual([10, 5, 5]);
    expect(planWaves(ids(7), { canaryPercent: 1, waves: 3 }).map((w) => w.length)).toEqual([1, 2, 2, 2]);
    expect(planWaves(ids(3), { canaryPercent: 0, waves: 5 }).map((w) => w.length)).toEqual([1, 1, 1]);
    expect(planWaves(ids(4), { canaryPercent: 100, waves: 3 })).toEqual([ids(4)]);
    expect(planWaves([], { canaryPercent: 10, waves: 3 })).toEqual([]);
    expect(planWaves(['b', 'a', 'c'], { canaryPercent: 10, waves: 1 })).toEqual([['a'], ['b', 'c']]);
  });

  it('a member adopted when it runs the target, failed when it reports a rollback or refusal of it, else pending', () => {
    const plan = { version: '1.2.0' };
    const r = (over: Partial<ReportedState>) => report('gw-a', over);
    expect(memberOutcome(plan, null)).toEqual({ outcome: 'pending' });
    expect(memberOutcome(plan, r({ running: { version: '1.2.0', configRevision: null } }))).toEqual({ outcome: 'adopted' });
    expect(memberOutcome(plan, r({ update: { kind: 'release', target: '1.2.0', step: 'trial', outcome: 'rolled-back', reason: 'not healthy within 120s', at: 'x' } }))).toEqual({ outcome: 'failed', reason: 'rolled-back: not healthy within 120s' });
    expect(memberOutcome(plan, r({ update: { kind: 'release', target: '1.1.0', step: 'trial', outcome: 'rolled-back', at: 'x' } }))).toEqual({ outcome: 'pending' });
    expect(memberOutcome(plan, r({ refused: [{ kind: 'release', target: '1.2.0', reason: 'wrong-machine', at: 'x', why: '' }] }))).toEqual({ outcome: 'failed', reason: 'refused: wrong-machine' });
    expect(memberOutcome({ configRevision: 7 }, r({ running: { version: '1.0.0', configRevision: 7 } }))).toEqual({ outcome: 'adopted' });
    // Running the target on trial is not adopting it yet: the trial may still roll back.
    expect(memberOutcome(plan, r({ running: { version: '1.2.0', configRevision: null }, update: { kind: 'release', target: '1.2.0', step: 'trial', outcome: 'in-progress', at: 'x' } }))).toEqual({ outcome: 'pending' });
    expect(memberOutcome(plan, r({ running: { version: '1.2.0', configRevision: null }, update: { kind: 'release', target: '1.2.0', step: 'confirm', outcome: 'adopted', at: 'x' } }))).toEqual({ outcome: 'adopted' });
    expect(memberOutcome({ configRevision: 7 }, r({ running: { version: '1.0.0', configRevision: 7 }, update: { kind: 'config', target: 7, step: 'trial', outcome: 'in-progress', at: 'x' } }))).toEqual({ outcome: 'pending' });
    expect(memberOutcome({ configRevision: 7 }, r({ update: { kind: 'config', target: 7, step: 'confirm', outcome: 'refused', at: 'x' } })).outcome).toBe('failed');
    // The cutoff is strict: exactly at it the rollout goes on.
    expect(overCutoff({ size: 10, adopted: 8, failed: 2, pending: 0 }, 20)).toBe(false);
    expect(overCutoff({ size: 10, adopted: 7, failed: 3, pending: 0 }, 20)).toBe(true);
  });
});

describe('rollout runner (ManualClock, SQLite store, recorded desired messages)', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  function setUp(n: number, file?: string) {
    const t = tempDir('fm-rollout-');
    const clock = new ManualClock();
    const store = new SqliteFleetStore(file ?? join(t.dir, 'fleet.sqlite'));
    const sent: Array<{ gateway: string; version: string | undefined; serial: number }> = [];
    const fleet = new FleetService(store, { publishRetained: async (_topic, payload) => { const d = parseDesired(payload); if (d.ok) sent.push({ gateway: d.value.gateway, version: d.value.release?.body.version, serial: d.value.serial }); } }, clock, silentLogger, new RateLimitedLog(silentLogger, clock));
    const runner = new RolloutRunner(fleet, clock, silentLogger);
    const key = generateReleaseKey();
    for (const v of ['1.0.0', '1.1.0']) store.putRelease({ version: v, envelope: signedRelease(key, v, Buffer.from(v)), addedAt: 0 });
    const ids = Array.from({ length: n }, (_, i) => `gw-${i}`);
    const say = (id: string, over: Partial<ReportedState> = {}) => fleet.reported(id, encodeReported(report(id, over)));
    for (const id of ids) say(id);
    cleanups.push(() => {
      runner.close();
      fleet.close();
      t.cleanup();
    });
    const settle = () => new Promise((r) => setTimeout(r, 30));
    return { clock, store, fleet, runner, sent, ids, say, settle, dir: t.dir };
  }

  const plan = { version: '1.1.0', canaryPercent: 25, waves: 1, maxFailurePercent: 0, waveTimeoutSec: 600 };
  const adopted = { running: { version: '1.1.0', configRevision: null } };

  it('a silent member fails at the wave timeout, which stops the rollout (cutoff 0 %); its desired goes back', async () => {
    const w = setUp(4);
    const r = await w.runner.create(plan, 'ops');
    expect(r.waves.map((x) => x.map((m) => m.gateway))).toEqual([['gw-0'], ['gw-1', 'gw-2', 'gw-3']]);
    expect(w.sent.filter((s) => s.version === '1.1.0').map((s) => s.gateway)).toEqual(['gw-0']);
    w.clock.advance(599_000);
    await w.settle();
    expect(w.store.rollout(r.id)!.state).toBe('running');
    w.clock.advance(2000);
    await w.settle();
    const after = w.store.rollout(r.id)!;
    expect(after.state).toBe('stopped');
    expect(after.waves[0]![0]).toEqual({ gateway: 'gw-0', outcome: 'failed', reason: 'no answer within 600 s' });
    expect(after.stopReason).toMatch(/1 of 1 failed/);
    expect(w.sent.at(-1)).toMatchObject({ gateway: 'gw-0', version: '1.0.0' });
    expect(w.sent.filter((s) => s.version === '1.1.0').map((s) => s.gateway)).toEqual(['gw-0']);
  });

  it('paused: the wave finishes but the next does not start until resumed; one active rollout at a time', async () => {
    const w = setUp(4);
    const r = await w.runner.create(plan, 'ops');
    await expect(w.runner.create(plan, 'ops')).rejects.toMatchObject({ status: 409 });
    await w.runner.pause(r.id, 'ops');
    await expect(w.runner.pause(r.id, 'ops')).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/is paused, not running \(already paused\)/) });
    // Pausing does not end a rollout: the answer says how to get past it.
    await expect(w.runner.create(plan, 'ops')).rejects.toMatchObject({ status: 409, message: expect.stringMatching(new RegExp(`resume it \\(fieldmesh fleet resume ${r.id}\\) and let it finish or stop`)) });
    w.say('gw-0', adopted);
    await w.settle();
    expect(w.store.rollout(r.id)!).toMatchObject({ state: 'paused', wave: 0 });
    expect(w.store.rollout(r.id)!.waves[0]![0]!.outcome).toBe('adopted');
    expect(w.sent.filter((s) => s.version === '1.1.0').map((s) => s.gateway)).toEqual(['gw-0']);
    await w.runner.resume(r.id, 'ops');
    expect(w.store.rollout(r.id)!.wave).toBe(1);
    for (const id of ['gw-1', 'gw-2', 'gw-3']) w.say(id, adopted);
    await w.settle();
    expect(w.store.rollout(r.id)!.state).toBe('done');
    await expect(w.runner.resume(r.id, 'ops')).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/is done, not paused: it is over/) });
  });

  it('cancel a running rollout: stopped as the cutoff leaves it, later waves never get the target, a new one starts, a restart keeps it', async () => {
    const w = setUp(8);
    const r = await w.runner.create(plan, 'ops');
    expect(r.waves.map((x) => x.length)).toEqual([2, 6]);
    w.say('gw-0', adopted);
    await w.settle();
    const cancelled = await w.runner.cancel(r.id, 'alice');
    expect(cancelled).toMatchObject({ state: 'stopped', stopReason: 'cancelled by alice', wave: 0 });
    // The adopted member keeps the target; the unanswered one fails and its desired goes back to what it runs.
    expect(cancelled.waves[0]).toEqual([{ gateway: 'gw-0', outcome: 'adopted' }, { gateway: 'gw-1', outcome: 'failed', reason: 'cancelled' }]);
    expect(cancelled.waves[1]!.every((m) => m.outcome === 'pending')).toBe(true);
    expect(w.store.desired('gateway:gw-0')).toMatchObject({ version: '1.1.0' });
    expect(w.store.desired('gateway:gw-1')).toMatchObject({ version: '1.0.0' });
    expect(w.sent.at(-1)).toMatchObject({ gateway: 'gw-1', version: '1.0.0' });
    expect(w.store.history({ limit: 10 }).find((e) => e.detail.event === 'stopped')!.detail).toMatchObject({ rollout: r.id, reason: 'cancelled by alice', by: 'alice', wave: 0, unfinished: ['gw-1'] });
    // Its wave timer is gone: nothing moves on past the timeout, no later wave is touched.
    w.clock.advance(700_000);
    await w.settle();
    expect(w.store.rollout(r.id)!.updatedAt).toBe(cancelled.updatedAt);
    expect(w.sent.filter((s) => s.version === '1.1.0').map((s) => s.gateway)).toEqual(['gw-0', 'gw-1']);
    expect(w.store.allDesired().map((e) => e.scope).sort()).toEqual(['gateway:gw-0', 'gateway:gw-1']);
    await expect(w.runner.cancel(r.id, 'alice')).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/is stopped, not running or paused: it is over already \(cancelled by alice\); start a new rollout \(fieldmesh fleet rollout\)/) });
    await expect(w.runner.cancel(99, 'alice')).rejects.toMatchObject({ status: 404, message: expect.stringMatching(/no rollout 99 .*fieldmesh fleet status/) });
    // A restarted bridge (a new store on the same file) keeps it stopped, and takes a new rollout.
    const store = new SqliteFleetStore(join(w.dir, 'fleet.sqlite'));
    const fleet = new FleetService(store, { publishRetained: async () => {} }, w.clock, silentLogger, new RateLimitedLog(silentLogger, w.clock));
    const again = new RolloutRunner(fleet, w.clock, silentLogger);
    cleanups.push(() => {
      again.close();
      fleet.close();
    });
    await again.start();
    expect(again.active()).toBeNull();
    expect(store.rollout(r.id)).toMatchObject({ state: 'stopped', stopReason: 'cancelled by alice' });
    expect((await again.create(plan, 'alice')).state).toBe('running');
  });

  it('cancel a paused rollout; then a new rollout starts at once; cancelling a done one is 409', async () => {
    const w = setUp(4);
    const r = await w.runner.create(plan, 'ops');
    await w.runner.pause(r.id, 'ops');
    await expect(w.runner.create(plan, 'ops')).rejects.toMatchObject({ status: 409, message: expect.stringMatching(new RegExp(`or cancel it \\(fieldmesh fleet cancel ${r.id}\\)`)) });
    w.say('gw-0', adopted);
    await w.settle();
    const cancelled = await w.runner.cancel(r.id, 'ops');
    expect(cancelled).toMatchObject({ state: 'stopped', stopReason: 'cancelled by ops' });
    expect(cancelled.waves.flat().map((m) => m.outcome)).toEqual(['adopted', 'pending', 'pending', 'pending']);
    expect(w.sent.filter((s) => s.version === '1.1.0').map((s) => s.gateway)).toEqual(['gw-0']);
    await expect(w.runner.resume(r.id, 'ops')).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/is stopped, not paused: it is over; start a new rollout/) });
    const next = await w.runner.create({ ...plan, canaryPercent: 100 }, 'ops');
    expect(next).toMatchObject({ state: 'running', wave: 0 });
    for (const id of ['gw-1', 'gw-2', 'gw-3']) w.say(id, adopted);
    await w.settle();
    expect(w.store.rollout(next.id)!.state).toBe('done');
    await expect(w.runner.cancel(next.id, 'ops')).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/is done, not running or paused: it is over already; start a new rollout/) });
  });

  it('a config revision rolls out the same way, and a finished rollout hands it to the all entry, release entry kept', async () => {
    const w = setUp(3);
    const key = generateReleaseKey();
    w.store.putConfig({ revision: 7, envelope: signArtifact({ kind: 'config', revision: 7, sections: { rules: [] }, createdAt: '2026-12-01T00:00:00.000Z' }, key), addedAt: 0 });
    await w.fleet.setDesired({ all: true }, { version: '1.0.0' }, 'ops');
    const r = await w.runner.create({ configRevision: 7, canaryPercent: 34, waves: 1, maxFailurePercent: 50, waveTimeoutSec: 60 }, 'ops');
    expect(w.store.desired('gateway:gw-0')).toMatchObject({ version: '1.0.0', configRevision: 7 });
    const onRev7 = { running: { version: '1.0.0', configRevision: 7 } };
    w.say('gw-0', onRev7);
    w.say('gw-1', { update: { kind: 'config', target: 7, step: 'confirm', outcome: 'refused', reason: 'invalid-config', at: 'x' } });
    await w.settle();
    expect(w.store.rollout(r.id)!.wave).toBe(1);
    w.say('gw-2', onRev7);
    await w.settle();
    const done = w.store.rollout(r.id)!;
    expect(done.state).toBe('done');
    expect(done.waves.flat().map((m) => m.outcome)).toEqual(['adopted', 'failed', 'adopted']);
    expect(w.store.desired('all')).toMatchObject({ version: '1.0.0', configRevision: 7 });
    // Adopted members follow `all` again; the failed one keeps its own entry, back on what it runs.
    expect(w.store.allDesired().map((e) => e.scope).sort()).toEqual(['all', 'gateway:gw-1']);
    expect(w.store.desired('gateway:gw-1')).toMatchObject({ version: '1.0.0' });
    expect(w.store.desired('gateway:gw-1')!.configRevision).toBeUndefined();
  });

  it('a gateway already on the target counts at once; a restart resumes the active rollout with its timer', async () => {
    const w = setUp(3);
    w.say('gw-0', adopted);
    const r = await w.runner.create({ ...plan, canaryPercent: 33, waveTimeoutSec: 60 }, 'ops');
    // gw-0 (the canary) already runs 1.1.0: wave 1 started straight away.
    expect(w.store.rollout(r.id)!.wave).toBe(1);
    w.runner.close();
    // A new runner over the same store (the bridge restarted) picks the rollout up.
    const again = new RolloutRunner(w.fleet, w.clock, silentLogger);
    cleanups.push(() => again.close());
    await again.start();
    w.say('gw-1', adopted);
    await w.settle();
    expect(w.store.rollout(r.id)!.waves[1]!.map((m) => m.outcome)).toEqual(['adopted', 'pending']);
    w.clock.advance(61_000);
    await w.settle();
    expect(w.store.rollout(r.id)!).toMatchObject({ state: 'stopped' });
    expect(w.store.rollout(r.id)!.stopReason).toMatch(/^wave 1: 1 of 2 failed \(50%\)/);
  });
});
