import { systemClock } from '@fieldmesh/device-sdk';
import { parseFlags, UsageError, type Command } from '../command.js';
import { fetchFromGateway, gatewayTarget } from '../gateway-api.js';
import { bytes, count, duration, printable, table } from '../human-format.js';

const help = `usage: fieldmesh status [--url URL] [--token TOKEN] [--json]

Prints the status of a running gateway (its GET /api/status) or cloud bridge (its
GET /api/gateways: every gateway with its backlog and last contact, and the batches stored).
  --url URL      the gateway's or the cloud's HTTP address (default http://127.0.0.1:8081)
  --token TOKEN  the cloud's live token (printed at its first start); or FM_LIVE_TOKEN
  --json         print the raw JSON
A gateway's status ends with its fleet line: the release and config revision it runs, its last
update (docs/FLEET.md). Exit code 1 when it cannot be reached.
`;

export interface Status {
  id?: string;
  running?: boolean;
  uptimeS?: number;
  epoch?: string;
  broker?: { port?: number; auth?: string };
  ingest?: { ingested?: number; duplicates?: number; connections?: number; rejected?: Record<string, number> };
  log?: { lastSeq?: number; ackWatermark?: number; backlog?: { readings?: number; bytes?: number; oldestUnsentTs?: number | null } };
  uplink?: { state?: string; drainRate?: number; etaSeconds?: number | null; sendWindow?: number; alertsPending?: number };
  storage?: {
    budget?: { policy?: string; budgetBytes?: number; usedBytes?: number; walBytes?: number; admitting?: boolean; stuck?: boolean };
    lost?: Record<string, number>;
    losses?: Array<{ series: string; reason: string; count: number }>;
    clock?: { knownGood?: boolean; uncertainReadings?: number };
    salvage?: { at?: number; movedTo?: string; readingsCopied?: number; unreadableReadings?: number } | null;
  } | null;
  fleet?: {
    running?: string;
    configRevision?: number | null;
    desiredSerial?: number | null;
    update?: { kind?: string; target?: string | number; step?: string; outcome?: string; reason?: string } | null;
    refused?: number;
    paused?: boolean;
    trial?: boolean;
  } | null;
  relay?: {
    route?: { state?: string; via?: string | null };
    serving?: { origins?: string[] } | null;
    replication?: { buddies?: Array<{ id: string }>; lagReadings?: number; lagMs?: number } | null;
  } | null;
}

/** Budget use and policy, then every loss per series and reason (nothing is lost silently). */
function storageLines(st: Status['storage']): string[] {
  if (!st?.budget) return ['storage   unknown'];
  const b = st.budget;
  const pct = b.budgetBytes ? Math.round(((b.usedBytes ?? 0) / b.budgetBytes) * 100) : 0;
  const state = b.admitting === false ? ', REFUSING new readings (reject-new)' : b.stuck ? ', OVER BUDGET with nothing left to delete' : '';
  const lines = [`storage   ${bytes(b.usedBytes ?? 0)} of ${bytes(b.budgetBytes ?? 0)} (${pct}%, WAL ${bytes(b.walBytes ?? 0)}), policy ${b.policy ?? '?'}${state}`];
  const totals = Object.entries(st.lost ?? {}).filter(([, n]) => n > 0);
  lines.push(`lost      ${totals.length ? totals.map(([k, n]) => `${k}=${count(n)}`).join(' ') : 'none'}`);
  const losses = (st.losses ?? []).slice(0, 20);
  if (losses.length) lines.push(...table(losses.map((l) => [l.series, l.reason, count(l.count)]), [2]).trimEnd().split('\n').map((l) => `          ${l}`));
  if ((st.losses?.length ?? 0) > 20) lines.push(`          … ${st.losses!.length - 20} more (--json for all)`);
  if (st.clock) lines.push(`clock     ${st.clock.knownGood ? 'known good' : 'NOT known good (timestamps marked uncertain)'}, ${count(st.clock.uncertainReadings ?? 0)} readings with uncertain time`);
  if (st.salvage) {
    const s = st.salvage;
    lines.push(`SALVAGED  from a corrupt database at ${new Date(s.at ?? 0).toISOString()}: ${s.readingsCopied ?? 0} readings kept, ${s.unreadableReadings ?? 0} unreadable; damaged file kept at ${s.movedTo ?? '?'}`);
  }
  return lines;
}

/**
 * What this gateway runs and its last update (gateway/src/fleet/FLEET-AGENT.md); `off` without a
 * `fleet:` section. The whole fleet is `fieldmesh fleet status` against the cloud.
 */
function fleetLine(f: Status['fleet']): string {
  if (!f) return 'off';
  const parts = [`${f.running ?? '?'} / ${typeof f.configRevision === 'number' ? `rev ${f.configRevision}` : 'base config'}`];
  if (f.trial) parts.push('ON TRIAL');
  if (f.paused) parts.push('updates PAUSED (see the log)');
  const u = f.update;
  if (u) parts.push(`last update ${u.outcome ?? '?'} ${u.kind === 'config' ? 'rev ' : ''}${u.target ?? '?'}${u.outcome === 'in-progress' && u.step ? ` (${u.step})` : ''}${u.reason ? `: ${printable(u.reason).slice(0, 200)}` : ''}`);
  if (f.refused) parts.push(`${f.refused} refused (fieldmesh fleet history --gateway ID shows why)`);
  return parts.join(', ');
}

/** `direct`, `via gw-b`, …; plus the origins this gateway carries (gateway/src/relay). */
function relayLine(r: Status['relay']): string {
  if (!r) return 'off';
  const route = r.route?.via ? `via ${r.route.via}` : (r.route?.state ?? '?');
  const carrying = r.serving?.origins?.length ? `, carrying ${r.serving.origins.join(' ')}` : '';
  const rep = r.replication;
  const replicated = rep ? `; replicas on ${rep.buddies?.map((b) => b.id).join(' ') || 'none yet'}, lag ${count(rep.lagReadings ?? 0)} readings (${duration((rep.lagMs ?? 0) / 1000)})` : '';
  return route + carrying + replicated;
}

const status: Command = {
  name: 'status',
  summary: "show a running gateway's or cloud's status (GET /api/status, /api/gateways)",
  help,
  async run(argv) {
    const { flags, rest } = parseFlags(argv, { url: 'string', token: 'string', json: 'boolean' });
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    const token = typeof flags.token === 'string' ? flags.token : process.env.FM_LIVE_TOKEN;
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    // The gateway answers /api/status; the cloud bridge has no such route (404 with a token,
    // 401 without): then the cloud's own view is shown.
    const first = await fetchFromGateway('status', gatewayTarget(flags.url, '/api/status'), { headers });
    if (!first) return 1;
    if (first.status === 401 || first.status === 404) return cloudStatus(flags, headers, first.status);
    if (!first.ok) {
      process.stderr.write(`fieldmesh status: ${gatewayTarget(flags.url, '/api/status').href} answered ${first.status}: ${first.text.slice(0, 500)}\n`);
      return 1;
    }
    const text = first.text;
    if (flags.json) {
      process.stdout.write(text + '\n');
      return 0;
    }
    const s = JSON.parse(text) as Status;
    const b = s.log?.backlog;
    const rejected = Object.entries(s.ingest?.rejected ?? {}).map(([k, v]) => `${k}=${count(v)}`).join(' ') || 'none';
    process.stdout.write(
      [
        `gateway   ${s.id ?? '?'} (${s.running ? 'running' : 'stopped'}, up ${duration(s.uptimeS ?? 0)}, epoch ${s.epoch ?? '?'})`,
        `broker    port ${s.broker?.port ?? '?'}, auth ${s.broker?.auth ?? '?'}, ${count(s.ingest?.connections ?? 0)} connections`,
        `ingest    ${count(s.ingest?.ingested ?? 0)} readings, ${count(s.ingest?.duplicates ?? 0)} duplicates, rejected: ${rejected}`,
        `log       last seq ${count(s.log?.lastSeq ?? 0)}, acked ${count(s.log?.ackWatermark ?? 0)}`,
        `backlog   ${count(b?.readings ?? 0)} readings, ${bytes(b?.bytes ?? 0)}${b?.oldestUnsentTs ? `, oldest ${new Date(b.oldestUnsentTs).toISOString()}` : ''}`,
        ...storageLines(s.storage),
        `uplink    ${uplinkLine(s.uplink)}`,
        `relay     ${relayLine(s.relay)}`,
        `fleet     ${fleetLine(s.fleet)}`,
      ].join('\n') + '\n',
    );
    return 0;
  },
};

export default status;

/** The uplink's state with its drain rate, the backlog's ETA and waiting alerts. */
export function uplinkLine(u: Status['uplink']): string {
  if (!u) return 'none';
  const parts = [u.state ?? 'none'];
  if (typeof u.drainRate === 'number') parts.push(`draining ${count(u.drainRate)} readings/s`);
  if (u.etaSeconds === null) parts.push('ETA unknown (nothing drains)');
  else if (typeof u.etaSeconds === 'number' && u.etaSeconds > 0) parts.push(`ETA ${duration(u.etaSeconds)}`);
  if (typeof u.sendWindow === 'number') parts.push(`window ${u.sendWindow}`);
  if (u.alertsPending) parts.push(`${u.alertsPending} alerts pending`);
  return parts.join(', ');
}

interface CloudGateway {
  id: string;
  online: boolean;
  lastContact: number | null;
  epoch: string | null;
  ackedSeq: number;
  reportedBacklog: number | null;
  readings: number;
  via?: string | null;
}

/** The cloud bridge's view: every gateway it knows, and what it has stored. */
async function cloudStatus(flags: Record<string, string | boolean>, headers: Record<string, string>, firstStatus: number): Promise<number> {
  if (firstStatus === 401) {
    process.stderr.write(
      `fieldmesh status: ${gatewayTarget(flags.url, '/').origin} is a cloud bridge that wants its live token: pass --token TOKEN or set FM_LIVE_TOKEN (printed at its first start)\n`,
    );
    return 1;
  }
  const target = gatewayTarget(flags.url, '/api/gateways');
  const answer = await fetchFromGateway('status', target, { headers });
  if (!answer) return 1;
  if (!answer.ok) {
    process.stderr.write(`fieldmesh status: ${target.href} answered ${answer.status}: ${answer.text.slice(0, 300)}\n`);
    return 1;
  }
  if (flags.json) {
    process.stdout.write(answer.text + '\n');
    return 0;
  }
  const gateways = ((JSON.parse(answer.text) as { gateways?: CloudGateway[] }).gateways ?? []).slice().sort((a, b) => a.id.localeCompare(b.id));
  const now = systemClock.now();
  const online = gateways.filter((g) => g.online).length;
  const stored = gateways.reduce((n, g) => n + (g.readings ?? 0), 0);
  process.stdout.write(`cloud     ${target.origin}: ${gateways.length} gateways (${online} online), ${count(stored)} readings stored\n`);
  if (gateways.length === 0) {
    process.stdout.write('no gateway has delivered yet (fieldmesh cloud add-gateway ID, then point its uplink here)\n');
    return 0;
  }
  process.stdout.write(
    table(
      [
        ['GATEWAY', 'STATE', 'READINGS', 'ACKED SEQ', 'BACKLOG', 'LAST CONTACT', 'VIA'],
        ...gateways.map((g) => [
          g.id,
          g.online ? 'online' : 'offline',
          count(g.readings),
          count(g.ackedSeq),
          g.reportedBacklog === null ? '-' : count(g.reportedBacklog),
          g.lastContact === null ? 'never' : `${duration((now - g.lastContact) / 1000)} ago`,
          g.via ?? '-',
        ]),
      ],
      [2, 3, 4],
    ),
  );
  return 0;
}
