import { systemClock } from '@fieldmesh/device-sdk';
import { parseFlags, UsageError, type Command } from '../command.js';
import { fetchFromGateway, gatewayTarget } from '../gateway-api.js';
import { count, value } from '../human-format.js';

const help = `usage: fieldmesh query --series DEVICE/SENSOR --from TIME --to TIME [--step MS] [options]

Reads one series from a running gateway's GET /api/readings and prints it.
  --url URL        the gateway's HTTP address (default http://127.0.0.1:8081)
  --series S       the series, e.g. boiler/temperature
  --from TIME      start, inclusive
  --to TIME        end, exclusive (default: now)
  --step MS        one point per step (min max avg count last): a multiple of 60000 reads the
                   1-minute rollups, of 3600000 the 1-hour ones, anything else raw readings
  --limit N        raw readings per page (default 1000); all pages are fetched unless --max stops it
  --max N          stop after N raw readings (default 100000)
  --json           print the JSON answer(s), one per line
TIME is milliseconds since the epoch, an ISO 8601 date (2026-01-01T12:00:00Z), \`now\`, or
\`now-DURATION\` (now-15m, now-2h, now-1d).
Exit code 1 when the gateway cannot be reached or refuses the query (its reason is printed).
`;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseTime(text: string, flag: string, now = systemClock.now()): number {
  if (/^-?\d+$/.test(text)) return Number(text);
  if (text === 'now') return now;
  const rel = /^now-(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text);
  if (rel) return Math.round(now - Number(rel[1]) * UNIT_MS[rel[2]!]!);
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new UsageError(`--${flag} ${text} is not a time (ms since the epoch, ISO 8601, now, now-1h)`);
  return t;
}

interface Page {
  readings?: Array<{ ts: number; value: unknown; unit?: string }>;
  next?: string | null;
  points?: Array<{ ts: number; min: number; max: number; avg: number; count: number; last: number }>;
  source?: string;
}

const query: Command = {
  name: 'query',
  summary: 'read a series from a running gateway (GET /api/readings)',
  help,
  async run(argv) {
    const { flags, rest } = parseFlags(argv, {
      url: 'string',
      series: 'string',
      from: 'string',
      to: 'string',
      step: 'string',
      limit: 'string',
      max: 'string',
      json: 'boolean',
    });
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    if (typeof flags.series !== 'string') throw new UsageError('--series is required');
    if (typeof flags.from !== 'string') throw new UsageError('--from is required');
    const now = systemClock.now();
    const params = new URLSearchParams({
      series: flags.series,
      from: String(parseTime(flags.from, 'from', now)),
      to: String(typeof flags.to === 'string' ? parseTime(flags.to, 'to', now) : now),
    });
    // Step and limit go to the gateway as given: it validates them and explains a refusal.
    if (typeof flags.step === 'string') params.set('step', flags.step);
    if (typeof flags.limit === 'string') params.set('limit', flags.limit);
    const max = typeof flags.max === 'string' ? Number(flags.max) : 100_000;
    if (!Number.isInteger(max) || max < 1) throw new UsageError(`--max ${String(flags.max)} is not a positive whole number`);
    let printed = 0;
    // The unit is the series' own (GET /api/latest); stepped points carry none.
    let unit = '';
    if (!flags.json) {
      const latest = await fetchFromGateway('query', gatewayTarget(flags.url, `/api/latest?series=${encodeURIComponent(flags.series)}`), { timeoutMs: 10_000 });
      if (latest?.ok) unit = ((JSON.parse(latest.text) as { unit?: string }).unit ?? '');
    }
    const range = `${new Date(Number(params.get('from'))).toISOString()} … ${new Date(Number(params.get('to'))).toISOString()}`;
    for (;;) {
      const target = gatewayTarget(flags.url, `/api/readings?${params}`);
      const res = await fetchFromGateway('query', target, { timeoutMs: 30_000, shownAs: target.origin });
      if (!res) return 1;
      const text = res.text;
      if (!res.ok) {
        let reason = text.slice(0, 500);
        try {
          const e = JSON.parse(text) as { error?: string; reason?: string };
          if (e.error) reason = `${e.error}: ${e.reason ?? ''}`;
        } catch {
          // not JSON: print as is
        }
        process.stderr.write(`fieldmesh query: the gateway answered ${res.status}: ${reason}\n`);
        return 1;
      }
      const page = JSON.parse(text) as Page;
      if (flags.json) process.stdout.write(text + '\n');
      if (page.points) {
        if (!flags.json) {
          if (page.points.length === 0) {
            process.stdout.write(`no readings in that range (${params.get('series')}, ${range})\n`);
            return 0;
          }
          process.stdout.write(`# ${params.get('series')}${unit ? ` in ${unit}` : ''}, step ${params.get('step')} ms, from the ${page.source} data\n`);
          process.stdout.write(`${'time'.padEnd(24)}  ${'min'.padStart(12)} ${'max'.padStart(12)} ${'avg'.padStart(12)} ${'count'.padStart(8)} ${'last'.padStart(12)}\n`);
          for (const p of page.points) {
            process.stdout.write(
              `${new Date(p.ts).toISOString()}  ${fmt(p.min)} ${fmt(p.max)} ${fmt(p.avg)} ${count(p.count).padStart(8)} ${fmt(p.last)}\n`,
            );
          }
        }
        return 0;
      }
      for (const r of page.readings ?? []) {
        if (printed >= max) break;
        if (!flags.json) process.stdout.write(`${new Date(r.ts).toISOString()}  ${value(r.value).padStart(12)}${r.unit ?? unit ? ` ${r.unit ?? unit}` : ''}\n`);
        printed++;
      }
      if (!page.next) {
        if (printed === 0 && !flags.json) process.stdout.write(`no readings in that range (${params.get('series')}, ${range})\n`);
        return 0;
      }
      if (printed >= max) {
        process.stderr.write(`fieldmesh query: stopped after ${max} readings (--max); more are in the range\n`);
        return 0;
      }
      params.set('cursor', page.next);
    }
  },
};

function fmt(n: number): string {
  return value(n).padStart(12);
}

export default query;
