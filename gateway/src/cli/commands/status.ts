import { parseFlags, UsageError, type Command } from '../command.js';

const help = `usage: fieldmesh status [--url URL] [--json]

Prints the status of a running gateway, read from its GET /api/status.
  --url URL   the gateway's HTTP address (default http://127.0.0.1:8081)
  --json      print the raw JSON
Exit code 1 when the gateway cannot be reached.
`;

interface Status {
  id?: string;
  running?: boolean;
  uptimeS?: number;
  epoch?: string;
  broker?: { port?: number; auth?: string };
  ingest?: { ingested?: number; duplicates?: number; connections?: number; rejected?: Record<string, number> };
  log?: { lastSeq?: number; ackWatermark?: number; backlog?: { readings?: number; bytes?: number; oldestUnsentTs?: number | null } };
  uplink?: { state?: string };
  relay?: { route?: { state?: string; via?: string | null }; serving?: { origins?: string[] } | null } | null;
}

/** `direct`, `via gw-b`, …; plus the origins this gateway carries (gateway/src/relay). */
function relayLine(r: Status['relay']): string {
  if (!r) return 'off';
  const route = r.route?.via ? `via ${r.route.via}` : (r.route?.state ?? '?');
  const carrying = r.serving?.origins?.length ? `, carrying ${r.serving.origins.join(' ')}` : '';
  return route + carrying;
}

const status: Command = {
  name: 'status',
  summary: "show a running gateway's status (GET /api/status)",
  help,
  async run(argv) {
    const { flags, rest } = parseFlags(argv, { url: 'string', json: 'boolean' });
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    const base = typeof flags.url === 'string' ? flags.url : 'http://127.0.0.1:8081';
    let target: URL;
    try {
      target = new URL('/api/status', base);
    } catch {
      throw new UsageError(`--url ${base} is not a URL`);
    }
    let res: Response;
    try {
      res = await fetch(target, { signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      process.stderr.write(`fieldmesh status: cannot reach ${target.href}: ${(err as Error).message}\n`);
      return 1;
    }
    const text = await res.text();
    if (!res.ok) {
      process.stderr.write(`fieldmesh status: ${target.href} answered ${res.status}: ${text.slice(0, 500)}\n`);
      return 1;
    }
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
        `backlog   ${b?.readings ?? 0} readings, ~${b?.bytes ?? 0} bytes${b?.oldestUnsentTs ? `, oldest ${new Date(b.oldestUnsentTs).toISOString()}` : ''}`,
        `uplink    ${s.uplink?.state ?? 'none'}`,
        `relay     ${relayLine(s.relay)}`,
      ].join('\n') + '\n',
    );
    return 0;
  },
};

export default status;
