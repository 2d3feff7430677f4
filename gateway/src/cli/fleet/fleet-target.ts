import { IDENTIFIER_RULE, isGatewayId, isGroupTag } from '@fieldmesh/protocol';
import { UsageError } from '../command.js';

/** Whom a desired-state change is for (FLEET: one gateway, a tag group, or every gateway). */
export type FleetTarget = { gateway: string } | { group: string } | { all: true };

/** Exactly one of --gateway ID, --group TAG, --all. */
export function targetFromFlags(flags: Record<string, string | boolean>): FleetTarget {
  const given = (['gateway', 'group', 'all'] as const).filter((k) => flags[k] !== undefined);
  if (given.length !== 1) {
    throw new UsageError(given.length === 0 ? 'say whom it is for: --gateway ID, --group TAG or --all' : `--${given.join(' and --')} cannot be combined: give exactly one of --gateway ID, --group TAG, --all`);
  }
  if (flags.all !== undefined) return { all: true };
  const key = given[0] as 'gateway' | 'group';
  const v = flags[key] as string;
  if (!(key === 'gateway' ? isGatewayId(v) : isGroupTag(v))) throw new UsageError(`--${key} ${JSON.stringify(v)} is not a ${key === 'gateway' ? 'gateway id' : 'tag'} (${IDENTIFIER_RULE})`);
  return key === 'gateway' ? { gateway: v } : { group: v };
}

export function describeTarget(t: FleetTarget): string {
  return 'gateway' in t ? `gateway ${t.gateway}` : 'group' in t ? `group ${t.group}` : 'all gateways';
}

/** A whole number ≥ min from a flag, or a usage error naming it. */
export function intFlag(flags: Record<string, string | boolean>, key: string, min: number, max: number): number | undefined {
  const v = flags[key];
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^\d{1,12}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${key} ${String(v)} must be a whole number from ${min} to ${max}`);
  return n;
}
