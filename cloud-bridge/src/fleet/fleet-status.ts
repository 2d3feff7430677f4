import { effectiveEntry } from './effective-desired.js';
import { entrySummary, type FleetStore, type StoredDesired } from './fleet-store.js';
import { rolloutView } from './rollout-waves.js';

const entryView = (e: StoredDesired) => ({
  scope: e.scope,
  ...entrySummary(e),
  setAt: e.setAt,
  by: e.by,
});

/**
 * `GET /api/fleet`: every gateway the fleet knows (id, tags, online, what it runs, its desired
 * state and where that comes from, its last update and refusals), the releases and config
 * revisions held, the desired entries, and the newest rollouts with their progress.
 */
export function fleetStatus(store: FleetStore, online: (id: string) => boolean): Record<string, unknown> {
  const entries = store.allDesired();
  const gateways = store.gateways().map((g) => {
    const e = effectiveEntry(entries, g.id, g.tags);
    const r = g.reported;
    return {
      id: g.id,
      tags: g.tags,
      online: online(g.id),
      reportedAt: g.reportedAt,
      running: r?.running ?? null,
      desired: {
        serial: g.serial,
        source: e?.scope ?? null,
        ...(e ? entrySummary(e) : {}),
      },
      desiredSerial: r?.desiredSerial ?? null,
      update: r?.update ?? null,
      refused: r?.refused ?? [],
    };
  });
  return {
    gateways,
    releases: store.releases().map((r) => ({ ...r.envelope.body, keyId: r.envelope.keyId, addedAt: r.addedAt })),
    configs: store.configs().map((c) => ({ revision: c.revision, sections: Object.keys(c.envelope.body.sections), createdAt: c.envelope.body.createdAt, ...(c.envelope.body.note !== undefined ? { note: c.envelope.body.note } : {}), keyId: c.envelope.keyId, addedAt: c.addedAt })),
    desired: entries.map(entryView),
    rollouts: store.rollouts(20).map(rolloutView),
  };
}
