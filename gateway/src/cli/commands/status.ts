import { parseFlags, UsageError, type Command } from '../command.js';
import { readGatewayApi } from '../gateway-api.js';

const help = `usage: fieldmesh status [--url URL] [--json]

Prints the status of a running gateway, read from its GET /api/status.
  --url URL   the gateway's HTTP address (default http://127.0.0.1:8081)
  --json      print the raw JSON
Exit code 1 when the gateway cannot be reached.
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
  const lines = [`storage   ${b.usedBytes ?? 0} of ${b.budgetBytes ?? 0} bytes (${pct}%, WAL ${b.walBytes ?? 0}), policy ${b.policy ?? '?'}${state}`];
  const totals = Object.entries(st.lost ?? {}).filter(([, n]) => n > 0);
  lines.push(`lost      ${totals.length ? totals.map(([k, n]) => `${k}=${n}`).join(' ') : 'none'}`);
  for (const l of (st.losses ?? []).slice(0, 20)) lines.push(`          ${l.series} ${l.reason} ${l.count}`);
  if ((st.losses?.length ?? 0) > 20) lines.push(`          … ${st.losses!.length - 20} more (--json for all)`);
  if (st.clock) lines.push(`clock     ${st.clock.knownGood ? 'known good' : 'NOT known good (timestamps marked uncertain)'}, ${st.clock.uncertainReadings ?? 0} readings with uncertain time`);
  if (st.salvage) {
    const s = st.salvage;
    lines.push(`SALVAGED  from a corrupt database at ${new Date(s.at ?? 0).toISOString()}: ${s.readingsCopied ?? 0} readings kept, ${s.unreadableReadings ?? 0} unreadable; damaged file kept at ${s.movedTo ?? '?'}`);
  }
  return lines;
}

/** `direct`, `via gw-b`, …; plus the origins this gateway carries (gateway/src/relay). */
function relayLine(r: Status['relay']): string {
  if (!r) return 'off';
  const route = r.route?.via ? `via ${r.route.via}` : (r.route?.state ?? '?');
  const carrying = r.serving?.origins?.length ? `, carrying ${r.serving.origins.join(' ')}` : '';
  const rep = r.replication;
  const replicated = rep ? `; replicas on ${rep.buddies?.map((b) => b.id).join(' ') || 'none yet'}, lag ${rep.lagReadings ?? 0} readings (${Math.round((rep.lagMs ?? 0) / 1000)} s)` : '';
  return route + carrying + replicated;
}

const status: Command = {
  name: 'status',
  summary: "show a running gateway's status (GET /api/status)",
  help,
  async run(argv) {
    const { flags, rest } = parseFlags(argv, { url: 'string', json: 'boolean' });
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    const text = await readGatewayApi('status', flags.url, '/api/status');
    if (text === undefined) return 1;
    if (flags.json) {
      process.stdout.write(text + '\n');
      return 0;
    }
    const s = JSON.parse(text) as Status;
    const b = s.log?.backlog;
    const rejected = Object.entries(s.ingest?.rejected ?? {}).map(([k, v]) => `${k}=${v}`).join(' ') || 'none';
    process.stdout.write(
      [
        `gateway   ${s.id ?? '?'} (${s.running ? 'running' : 'stopped'}, up ${s.uptimeS ?? 0} s, epoch ${s.epoch ?? '?'})`,
        `broker    port ${s.broker?.port ?? '?'}, auth ${s.broker?.auth ?? '?'}, ${s.ingest?.connections ?? 0} connections`,
        `ingest    ${s.ingest?.ingested ?? 0} readings, ${s.ingest?.duplicates ?? 0} duplicates, rejected: ${rejected}`,
        `log       last seq ${s.log?.lastSeq ?? 0}, acked ${s.log?.ackWatermark ?? 0}`,
        `backlog   ${b?.readings ?? 0} readings, ${b?.bytes ?? 0} bytes${b?.oldestUnsentTs ? `, oldest ${new Date(b.oldestUnsentTs).toISOString()}` : ''}`,
        ...storageLines(s.storage),
        `uplink    ${uplinkLine(s.uplink)}`,
        `relay     ${relayLine(s.relay)}`,
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
  if (typeof u.drainRate === 'number') parts.push(`draining ${u.drainRate} readings/s`);
  if (u.etaSeconds === null) parts.push('ETA unknown (nothing drains)');
  else if (typeof u.etaSeconds === 'number' && u.etaSeconds > 0) parts.push(`ETA ${u.etaSeconds} s`);
  if (typeof u.sendWindow === 'number') parts.push(`window ${u.sendWindow}`);
  if (u.alertsPending) parts.push(`${u.alertsPending} alerts pending`);
  return parts.join(', ');
}
