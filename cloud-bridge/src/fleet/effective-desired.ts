import type { DesiredState } from '@fieldmesh/protocol';
import type { FleetStore, StoredDesired } from './fleet-store.js';

/** The URL path a gateway fetches a release's bundle from (HTTP.md, fleet routes). */
export const bundlePath = (version: string): string => `/api/fleet/releases/${version}/bundle`;

/**
 * The entry that applies to a gateway: its own, else the newest entry of a group among its
 * tags, else the `all` entry (FLEET-CLOUD.md, "Desired state"). A whole entry wins, not field
 * by field: what an operator set for one gateway is not mixed with a group's.
 */
export function effectiveEntry(entries: readonly StoredDesired[], gateway: string, tags: readonly string[]): StoredDesired | null {
  let own: StoredDesired | null = null;
  let group: StoredDesired | null = null;
  let all: StoredDesired | null = null;
  for (const e of entries) {
    if (e.scope === `gateway:${gateway}`) own = e;
    else if (e.scope === 'all') all = e;
    else if (e.scope.startsWith('group:') && tags.includes(e.scope.slice(6)) && (group === null || e.rev > group.rev)) group = e;
  }
  return own ?? group ?? all;
}

/**
 * The desired message for a gateway, without its serial: the signed artifacts of the entry's
 * release, config revision and rollback order. A part whose artifact the cloud does not hold is
 * left out (the routes refuse to set such an entry; this is the backstop).
 */
export function desiredMessage(store: Pick<FleetStore, 'release' | 'config'>, entries: readonly StoredDesired[], gateway: string, tags: readonly string[]): Omit<DesiredState, 'serial'> {
  const e = effectiveEntry(entries, gateway, tags);
  const msg: Omit<DesiredState, 'serial'> = { format: 1, gateway };
  if (e === null) return msg;
  if (e.version !== undefined) {
    const r = store.release(e.version);
    if (r) {
      msg.release = r.envelope;
      msg.bundlePath = bundlePath(e.version);
    }
  }
  if (e.configRevision !== undefined) {
    const c = store.config(e.configRevision);
    if (c) msg.config = c.envelope;
  }
  if (e.rollback !== undefined) msg.rollback = e.rollback;
  return msg;
}
