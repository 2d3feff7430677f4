import { bytes, count, duration, printable, table } from '../human-format.js';

/** One gateway as GET /api/fleet lists it (cloud-bridge/src/fleet/FLEET-CLOUD.md). */
export interface FleetGatewayView {
  id: string;
  tags?: string[];
  online?: boolean;
  running?: { version?: string | null; configRevision?: number | null } | null;
  desired?: { version?: string | null; configRevision?: number | null; serial?: number } | null;
  update?: { kind?: string; target?: string | number; step?: string; outcome?: string; reason?: string; at?: string; bytes?: number } | null;
  refused?: Array<{ kind?: string; target?: string | number; reason?: string; why?: string; at?: string }>;
}

/** A rollout as GET /api/fleet lists it: its plan, state, the wave started last (0-based, -1: none) and tallies. */
export interface FleetRolloutView {
  id: number;
  state?: 'running' | 'paused' | 'stopped' | 'done';
  version?: string;
  configRevision?: number;
  group?: string;
  wave?: number;
  waveCount?: number;
  progress?: { total?: number; adopted?: number; failed?: number; pending?: number; reached?: number };
  stopReason?: string | null;
  waves?: Array<{ index: number; canary?: boolean; size?: number; adopted?: number; failed?: number; pending?: number; members?: Array<{ gateway: string; outcome: string; reason?: string }> }>;
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
  if (!d || (d.version == null && d.configRevision == null)) return 'none set';
  const wantVersion = d.version ?? g.running?.version;
  const wantRev = d.configRevision ?? g.running?.configRevision;
  if (wantVersion === g.running?.version && wantRev === g.running?.configRevision) return '=';
  return versionAndRevision({ version: wantVersion ?? null, configRevision: wantRev ?? null });
}

/**
 * The last update's outcome with its target and reason: `rolled-back 1.3.0: not healthy within 120s`;
 * or a refusal newer than it (a downgrade without a rollback order leaves the update as it was).
 */
function outcomeCell(g: FleetGatewayView): string {
  const u = g.update;
  const refused = list<NonNullable<FleetGatewayView['refused']>[number]>(g.refused)[0];
  if ((!u || typeof u !== 'object') && !refused) return '-';
  const refusedLater = refused && typeof refused === 'object' && typeof refused.at === 'string' && u && typeof u === 'object' && typeof u.at === 'string' && refused.at > u.at;
  if (u && typeof u === 'object' && !refusedLater) {
    const what = `${dash(u.outcome)} ${u.kind === 'config' ? 'rev ' : ''}${dash(u.target)}`;
    const got = typeof u.bytes === 'number' && u.bytes > 0 ? `, ${bytes(u.bytes)}` : '';
    const step = u.outcome === 'in-progress' && u.step ? ` (${u.step}${got})` : '';
    return `${what}${step}${u.reason ? `: ${u.reason}` : ''}`;
  }
  return `refused ${dash(refused!.kind)} ${dash(refused!.target)}: ${dash(refused!.reason)}`;
}

/** Keeps a table row on one screen line: hostile or long reasons are cut, never wrapped. What a gateway reports is hostile input. */
const clip = (s: string, n: number): string => printable(s.length > n ? s.slice(0, n - 1) + '…' : s);
const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

function gatewayTable(gateways: FleetGatewayView[]): string {
  const rows = gateways
    .slice()
    .sort((a, b) => String(a.id).localeCompare(String(b.id)))
    .map((g) => [clip(String(g.id), 64), clip(list<string>(g.tags).join(',') || '-', 40), g.online === true ? 'online' : 'offline', clip(versionAndRevision(g.running), 40), clip(desiredCell(g), 40), clip(outcomeCell(g), 90)]);
  return table([['GATEWAY', 'TAGS', 'STATE', 'RUNNING', 'DESIRED', 'LAST OUTCOME'], ...rows]);
}

/**
 * Where a rollout is, numbered as the cloud numbers waves (and its stop reasons): wave 0 is the
 * canary, waves 1..N follow (N = --waves, fewer when there are too few gateways).
 */
export function waveText(index: number | undefined, waveCount: number | undefined): string {
  const after = Math.max(0, (waveCount ?? 1) - 1);
  if (typeof index !== 'number' || index < 0) return 'no wave started';
  if (index === 0) return `canary wave, ${after} wave${after === 1 ? '' : 's'} after it`;
  return `wave ${index} of ${after}`;
}

/** `rollout 3  version 1.2.0 to group north: stopped (why); wave 2 of 4, 5 adopted, 1 failed, 14 pending`. */
export function rolloutLine(r: FleetRolloutView): string {
  const target = r.version ? `version ${r.version}` : r.configRevision != null ? `config rev ${r.configRevision}` : '?';
  const scope = r.group ? `group ${r.group}` : 'all gateways';
  const why = r.stopReason ? ` (${clip(r.stopReason, 200)})` : '';
  const wave = waveText(r.wave, r.waveCount);
  const p = r.progress ?? {};
  // `pending` counts every member without an outcome; those in waves not started are told apart.
  const later = Math.max(0, (p.total ?? 0) - (p.reached ?? 0));
  const laterText = later > 0 ? `, ${count(later)} ${r.state === 'stopped' ? 'not reached' : 'in later waves'}` : '';
  return printable(`rollout ${dash(r.id)}  ${target} to ${scope}: ${dash(r.state)}${why}; ${wave}, ${count(p.adopted ?? 0)} adopted, ${count(p.failed ?? 0)} failed, ${count(Math.max(0, (p.pending ?? 0) - later))} pending${laterText}`);
}

/** The failed members of a rollout with their reasons, indented under its line. */
function failedMembers(r: FleetRolloutView): string[] {
  const failed = list<NonNullable<FleetRolloutView['waves']>[number]>(r.waves).flatMap((w) => list<{ gateway: string; outcome: string; reason?: string }>(w?.members).filter((m) => m?.outcome === 'failed'));
  const lines = failed.slice(0, 20).map((m) => `          failed ${clip(String(m.gateway), 64)}: ${clip(String(m.reason ?? '?'), 150)}`);
  if (failed.length > 20) lines.push(`          … ${failed.length - 20} more failed (--json for all)`);
  return lines;
}

/**
 * Why a gateway refuses what is desired of it now, in the gateway's own words (`why`), which the
 * table has no room for. Refusals of targets no longer desired stay in `history`.
 */
function refusalLines(gateways: FleetGatewayView[]): string[] {
  const lines = gateways
    .slice()
    .sort((a, b) => String(a.id).localeCompare(String(b.id)))
    .flatMap((g) => {
      const wanted = (r: unknown): r is NonNullable<FleetGatewayView['refused']>[number] => {
        if (!r || typeof r !== 'object') return false;
        const x = r as NonNullable<FleetGatewayView['refused']>[number];
        const d = g.desired;
        return typeof x.why === 'string' && x.why !== '' && (x.kind === 'config' ? String(d?.configRevision) === String(x.target) : String(d?.version) === String(x.target));
      };
      const r = list<unknown>(g.refused).find(wanted);
      if (!r) return [];
      return [`          ${clip(String(g.id), 64)} refused ${clip(`${dash(r.kind)} ${dash(r.target)}: ${dash(r.reason)}: ${r.why}`, 300)}`];
    });
  return lines.length > 0 ? ['', 'refusing what is desired (all refusals: fieldmesh fleet history --gateway ID):', ...lines.slice(0, 20)] : [];
}

export function fleetStatusText(view: FleetView, origin: string): string {
  const gateways = list<FleetGatewayView>(view?.gateways).filter((g) => g && typeof g === 'object');
  const online = gateways.filter((g) => g.online).length;
  const out = [`fleet     ${origin}: ${gateways.length} gateways (${online} online)`];
  out.push(gateways.length === 0 ? 'no gateway has reported fleet state yet (gateways report once their `fleet:` config section is set)' : gatewayTable(gateways).trimEnd());
  out.push(...refusalLines(gateways));
  const rollouts = list<FleetRolloutView>(view?.rollouts).filter((r) => r && typeof r === 'object');
  if (rollouts.length > 0) out.push('', ...rollouts.flatMap((r) => [rolloutLine(r), ...failedMembers(r)]));
  return out.join('\n') + '\n';
}

/** `version=1.2.0 outcome=rolled-back reason=…`: a history event's details, short values first. */
function detailText(d: unknown): string {
  if (!d || typeof d !== 'object') return '-';
  return Object.entries(d as Record<string, unknown>)
    .filter(([, v]) => v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v)))
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
    .join(' ') || '-';
}

/** Event fields that have their own column. */
const EVENT_COLUMNS = new Set(['id', 'at', 'gateway', 'kind']);

/** One history event per line, as the cloud lists them (GET /api/fleet/history: `{ id, at, gateway, kind, …what happened }`). */
export function historyText(answer: unknown, now: number): string {
  const events = list<Record<string, unknown>>(answer).filter((e) => e && typeof e === 'object');
  if (events.length === 0) return 'no fleet history yet\n';
  const rows = events.map((e) => {
    const at = typeof e.at === 'number' ? e.at : typeof e.at === 'string' ? Date.parse(e.at) : NaN;
    // Date's range is ±8.64e15 ms; a hostile or broken time outside it is shown as unknown.
    const when = Number.isFinite(at) && Math.abs(at) <= 8.64e15 ? `${new Date(at).toISOString()} (${duration((now - at) / 1000)} ago)` : '-';
    return [when, clip(dash(e.gateway), 64), clip(dash(e.kind), 40), clip(detailText(Object.fromEntries(Object.entries(e).filter(([k]) => !EVENT_COLUMNS.has(k)))), 120)];
  });
  return table([['AT', 'GATEWAY', 'EVENT', 'DETAIL'], ...rows]);
}
