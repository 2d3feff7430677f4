import { count, duration, table } from '../human-format.js';

/** One gateway as GET /api/fleet lists it (cloud-bridge/src/fleet/FLEET-CLOUD.md). */
export interface FleetGatewayView {
  id: string;
  tags?: string[];
  online?: boolean;
  running?: { version?: string | null; configRevision?: number | null } | null;
  desired?: { version?: string | null; configRevision?: number | null; serial?: number } | null;
  update?: { kind?: string; target?: string | number; step?: string; outcome?: string; reason?: string; at?: string } | null;
  refused?: Array<{ kind?: string; target?: string | number; reason?: string; why?: string; at?: string }>;
}

export interface FleetRolloutView {
  id: string | number;
  version?: string | null;
  configRevision?: number | null;
  group?: string | null;
  state?: string;
  paused?: boolean;
  stopReason?: string | null;
  reason?: string | null;
  wave?: number;
  waves?: number | Array<{ gateways?: string[] }>;
  adopted?: number;
  failed?: number;
  pending?: number;
  progress?: { wave?: number; waves?: number; adopted?: number; failed?: number; pending?: number };
}

export interface FleetView {
  gateways?: FleetGatewayView[];
  rollouts?: FleetRolloutView[];
}

const dash = (v: unknown): string => (v === undefined || v === null || v === '' ? '-' : String(v));

/** `1.2.0 / rev 7`, with `-` for what is not known (a gateway that never reported). */
export function versionAndRevision(s: { version?: string | null; configRevision?: number | null } | null | undefined): string {
  if (!s) return '-';
  const rev = typeof s.configRevision === 'number' ? `rev ${s.configRevision}` : 'base';
  return `${dash(s.version)} / ${rev}`;
}

/** What a gateway should run, or `=` when it already does (the common case reads at a glance). */
function desiredCell(g: FleetGatewayView): string {
  const d = g.desired;
  if (!d || (d.version == null && d.configRevision == null)) return '(none)';
  const wantVersion = d.version ?? g.running?.version;
  const wantRev = d.configRevision ?? g.running?.configRevision;
  if (wantVersion === g.running?.version && wantRev === g.running?.configRevision) return '=';
  return versionAndRevision({ version: wantVersion ?? null, configRevision: wantRev ?? null });
}

/** The last update's outcome with its target and reason: `rolled-back 1.3.0: not healthy within 120s`. */
function outcomeCell(g: FleetGatewayView): string {
  const u = g.update;
  const refused = g.refused?.[0];
  if (!u && !refused) return '-';
  if (u) {
    const what = `${dash(u.outcome)} ${u.kind === 'config' ? 'rev ' : ''}${dash(u.target)}`;
    const step = u.outcome === 'in-progress' && u.step ? ` (${u.step})` : '';
    return `${what}${step}${u.reason ? `: ${u.reason}` : ''}`;
  }
  return `refused ${dash(refused!.kind)} ${dash(refused!.target)}: ${dash(refused!.reason)}`;
}

/** Keeps a table row on one screen line: hostile or long reasons are cut, never wrapped. */
const clip = (s: string, n: number): string => (s.length > n ? s.slice(0, n - 1) + '…' : s).replace(/[\u0000-\u001f\u007f]/g, ' ');

export function gatewayTable(gateways: FleetGatewayView[]): string {
  const rows = gateways
    .slice()
    .sort((a, b) => String(a.id).localeCompare(String(b.id)))
    .map((g) => [clip(String(g.id), 64), clip((g.tags ?? []).join(',') || '-', 40), g.online ? 'online' : 'offline', versionAndRevision(g.running), desiredCell(g), clip(outcomeCell(g), 90)]);
  return table([['GATEWAY', 'TAGS', 'STATE', 'RUNNING', 'DESIRED', 'LAST OUTCOME'], ...rows]);
}

/** `wave 2 of 4, 5 adopted, 1 failed, 14 pending` and the state (running, paused, stopped: why, done). */
export function rolloutLine(r: FleetRolloutView): string {
  const p = r.progress ?? r;
  const waves = typeof p.waves === 'number' ? p.waves : Array.isArray(r.waves) ? r.waves.length : undefined;
  const target = r.version ? `version ${r.version}` : r.configRevision != null ? `config rev ${r.configRevision}` : '?';
  const scope = r.group ? `group ${r.group}` : 'all gateways';
  const state = r.paused && r.state !== 'paused' ? `${dash(r.state)}, paused` : dash(r.state);
  const why = r.stopReason ?? r.reason;
  const wave = typeof p.wave === 'number' ? `wave ${p.wave} of ${dash(waves)}` : `${dash(waves)} waves`;
  return `${dash(r.id)}  ${target} to ${scope}: ${state}${why ? ` (${clip(why, 200)})` : ''}; ${wave}, ${count(p.adopted ?? 0)} adopted, ${count(p.failed ?? 0)} failed, ${count(p.pending ?? 0)} pending`;
}

export function fleetStatusText(view: FleetView, origin: string): string {
  const gateways = view.gateways ?? [];
  const online = gateways.filter((g) => g.online).length;
  const out = [`fleet     ${origin}: ${gateways.length} gateways (${online} online)`];
  out.push(gateways.length === 0 ? 'no gateway has reported fleet state yet (gateways report once their `fleet:` config section is set)' : gatewayTable(gateways).trimEnd());
  const rollouts = view.rollouts ?? [];
  if (rollouts.length > 0) out.push('', 'ROLLOUTS', ...rollouts.map(rolloutLine));
  return out.join('\n') + '\n';
}

/** One history event per line, oldest first (GET /api/fleet/history). */
export function historyText(events: Array<Record<string, unknown>>, now: number): string {
  if (events.length === 0) return 'no fleet history yet\n';
  const rows = events.map((e) => {
    const at = typeof e.at === 'number' ? e.at : typeof e.at === 'string' ? Date.parse(e.at) : NaN;
    const when = Number.isFinite(at) ? `${new Date(at).toISOString()} (${duration((now - at) / 1000)} ago)` : '-';
    const what = [e.kind, e.event, e.outcome].filter((x) => typeof x === 'string').join(' ');
    const detail = [e.target ?? e.version ?? e.configRevision, e.reason ?? e.why ?? e.note].filter((x) => x !== undefined && x !== null).join(': ');
    return [when, clip(dash(e.gateway ?? e.rollout), 64), clip(what || '-', 40), clip(detail || '-', 100)];
  });
  return table([['AT', 'GATEWAY', 'EVENT', 'DETAIL'], ...rows]);
}
