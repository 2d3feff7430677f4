import { IDENTIFIER_RULE, isGroupTag } from '@fieldmesh/protocol';
import { parseFlags, UsageError } from '../command.js';
import type { FleetIo } from './desired-change.js';
import { FleetCloudClient } from './fleet-cloud-client.js';
import { fleetStatusText, historyText, rolloutLine, type FleetRolloutView, type FleetView } from './fleet-status-view.js';
import { describeTarget, intFlag, targetFromFlags } from './fleet-target.js';
import { releaseVersionArg } from './release-commands.js';
import { FLEET_FLAGS } from './fleet-flags.js';

const ROLLOUT_ID = /^[1-9]\d{0,14}$/;

function noArguments(rest: string[]): void {
  if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
}

/** `status [--json]`: every gateway's running and desired state, and the rollouts. */
export async function fleetStatus(argv: string[], io: FleetIo): Promise<number> {
  const { flags, rest } = parseFlags(argv, FLEET_FLAGS.status);
  noArguments(rest);
  const cloud = FleetCloudClient.fromFlags(flags, io.env);
  const answer = await cloud.get('/api/fleet');
  if (flags.json) io.out(answer.text + '\n');
  else io.out(fleetStatusText((answer.json ?? {}) as FleetView, cloud.base.origin));
  return 0;
}

/** What to do next with a rollout just started: it may already be over (a canary refusing at once, every gateway on the target). */
export function rolloutNextStep(r: FleetRolloutView): string {
  if (r.state === 'stopped') return 'stopped already: fieldmesh fleet status lists each failed gateway and why, fieldmesh fleet history --gateway ID its steps';
  if (r.state === 'done') return 'done already: every gateway in scope runs it';
  return `follow it with fieldmesh fleet status; hold it with fieldmesh fleet pause ${r.id}, stop it with fieldmesh fleet cancel ${r.id}`;
}

/** `rollout (--version V | --config-revision N) [--group T] [--canary P] [--waves N] [--max-failure P] [--wave-timeout S]`. */
export async function startRollout(argv: string[], io: FleetIo): Promise<number> {
  const { flags, rest } = parseFlags(argv, FLEET_FLAGS.rollout);
  noArguments(rest);
  const configRevision = intFlag(flags, 'config-revision', 1, 2 ** 31);
  if ((flags.version === undefined) === (configRevision === undefined)) throw new UsageError('rollout needs exactly one of --version V or --config-revision N');
  const version = flags.version === undefined ? undefined : releaseVersionArg([String(flags.version)], 'rollout --version');
  if (flags.group !== undefined && !isGroupTag(flags.group)) throw new UsageError(`--group ${JSON.stringify(flags.group)} is not a tag (${IDENTIFIER_RULE})`);
  const body: Record<string, unknown> = {
    ...(version ? { version } : { configRevision }),
    ...(flags.group !== undefined ? { group: flags.group } : {}),
  };
  const numbers: Array<[string, string, number, number]> = [
    ['canary', 'canaryPercent', 0, 100],
    ['waves', 'waves', 1, 100],
    ['max-failure', 'maxFailurePercent', 0, 100],
    ['wave-timeout', 'waveTimeoutSec', 1, 7 * 86_400],
  ];
  for (const [flag, field, min, max] of numbers) {
    const n = intFlag(flags, flag, min, max);
    if (n !== undefined) body[field] = n;
  }
  const cloud = FleetCloudClient.fromFlags(flags, io.env);
  const answer = await cloud.postJson('/api/fleet/rollouts', body);
  if (flags.json) io.out(answer.text + '\n');
  else {
    const rollout = answer.json as FleetRolloutView;
    io.out(`${rolloutLine(rollout)}\n${rolloutNextStep(rollout)}\n`);
  }
  return 0;
}

/** `pause ID` / `resume ID` / `cancel ID`. */
export async function rolloutAction(action: 'pause' | 'resume' | 'cancel', argv: string[], io: FleetIo): Promise<number> {
  const { flags, rest } = parseFlags(argv, FLEET_FLAGS[action]);
  if (rest.length !== 1) throw new UsageError(`${action} needs one rollout id (fieldmesh fleet status lists them)`);
  const id = rest[0]!;
  if (!ROLLOUT_ID.test(id)) throw new UsageError(`rollout id ${JSON.stringify(id)} is not one: a number, as fieldmesh fleet status lists them`);
  const cloud = FleetCloudClient.fromFlags(flags, io.env);
  const answer = await cloud.postJson(`/api/fleet/rollouts/${encodeURIComponent(id)}/${action}`, {});
  if (flags.json) io.out(answer.text + '\n');
  else {
    const rollout = answer.json as FleetRolloutView;
    // After a cancel the next step is the operator's: a corrected rollout, or handing reached gateways back.
    const next = action === 'cancel' ? `\nno later wave gets it; a new rollout can start now (fieldmesh fleet rollout); gateways it reached keep their own entry until fieldmesh fleet clear --gateway ID\n` : '\n';
    io.out(rolloutLine(rollout) + next);
  }
  return 0;
}

/** `history [--gateway ID]`. */
export async function fleetHistory(argv: string[], io: FleetIo): Promise<number> {
  const { flags, rest } = parseFlags(argv, FLEET_FLAGS.history);
  noArguments(rest);
  const cloud = FleetCloudClient.fromFlags(flags, io.env);
  const query = typeof flags.gateway === 'string' ? `?gateway=${encodeURIComponent(flags.gateway)}` : '';
  const answer = await cloud.get(`/api/fleet/history${query}`);
  if (flags.json) io.out(answer.text + '\n');
  else {
    const events = (answer.json as { events?: unknown } | undefined)?.events;
    // The cloud lists newest first; a history reads oldest first, the newest at the prompt.
    io.out(historyText(Array.isArray(events) ? events.slice().reverse() : [], io.clock.now()));
  }
  return 0;
}

/**
 * `clear TARGET`: removes that desired entry, so a gateway follows its groups or `all` again
 * (after a stopped rollout its reached members keep the own entries it set).
 */
export async function clearDesired(argv: string[], io: FleetIo): Promise<number> {
  const { flags, rest } = parseFlags(argv, FLEET_FLAGS.clear);
  noArguments(rest);
  const target = targetFromFlags(flags);
  const cloud = FleetCloudClient.fromFlags(flags, io.env);
  const answer = await cloud.putJson('/api/fleet/desired', { target, clear: true });
  if (flags.json) io.out(answer.text + '\n');
  else {
    const changed = (answer.json as { changed?: string[] } | undefined)?.changed ?? [];
    io.out(`cleared   the desired entry for ${describeTarget(target)}; ${changed.length} gateway${changed.length === 1 ? '' : 's'} now follow${changed.length === 1 ? 's' : ''} another entry${changed.length ? ` (${changed.slice(0, 10).join(', ')}${changed.length > 10 ? ', …' : ''})` : ''}\n`);
  }
  return 0;
}
