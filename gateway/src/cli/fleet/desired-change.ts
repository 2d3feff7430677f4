import type { Clock } from '@fieldmesh/device-sdk';
import { UsageError } from '../command.js';
import type { FleetCloudClient } from './fleet-cloud-client.js';
import { describeTarget, type FleetTarget } from './fleet-target.js';

/** What a fleet subcommand touches besides the cloud: time, its output and its environment. */
export interface FleetIo {
  clock: Clock;
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

/** --note: free text signed into config and rollback bodies (shown in history). */
export function noteFlag(flags: Record<string, string | boolean>): string | undefined {
  const n = flags.note;
  if (n === undefined) return undefined;
  if (typeof n !== 'string' || n.length > 500) throw new UsageError('--note is at most 500 characters');
  return n;
}

/** PUT /api/fleet/desired, then one line saying what is now desired (quiet with --json); the cloud's answer. */
export async function setDesired(cloud: FleetCloudClient, io: FleetIo, json: boolean, target: FleetTarget, change: Record<string, unknown>, what: string): Promise<unknown> {
  const answer = await cloud.putJson('/api/fleet/desired', { target, ...change });
  if (!json) io.out(`desired   ${what} for ${describeTarget(target)}\n`);
  return answer.json;
}
