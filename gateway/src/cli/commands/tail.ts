import { get, type IncomingMessage } from 'node:http';
import { get as getTls } from 'node:https';
import { parseFlags, UsageError, type Command } from '../command.js';
import { gatewayTarget } from '../gateway-api.js';

const help = `usage: fieldmesh tail [--url URL] [--series PATTERN] [--alerts all|only|none] [--json]

Streams live readings and alerts from a running gateway (its GET /api/tail Server-Sent Events
stream) until interrupted.
  --url URL          the gateway's HTTP address (default http://127.0.0.1:8081)
  --series PATTERN   only series matching, e.g. boiler/* or */temperature
  --alerts MODE      all (default), only (alerts alone) or none (readings alone)
  --json             print each event as one JSON line: {"event":"reading"|"alert"|"dropped", ...}
Exit code 1 when the gateway cannot be reached or the stream ends.
`;

interface ReadingEvent {
  series: string;
  ts: number;
  value: unknown;
  unit?: string;
}

interface AlertEventPayload {
  type: string;
  rule: string;
  series: string;
  severity: string;
  value: number | null;
  ts: number;
  reason: string;
}

/** Splits an SSE byte stream into (event, data) pairs; tolerant of chunks cut anywhere. */
export class SseParser {
  private buf = '';
  private event = 'message';
  private data: string[] = [];

  feed(chunk: string, on: (event: string, data: string) => void): void {
    this.buf += chunk;
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl === -1) return;
      const line = this.buf.slice(0, nl).replace(/\r$/, '');
      this.buf = this.buf.slice(nl + 1);
      if (line === '') {
        if (this.data.length > 0) on(this.event, this.data.join('\n'));
        this.event = 'message';
        this.data = [];
      } else if (line.startsWith(':')) {
        continue;
      } else if (line.startsWith('event:')) {
        this.event = line.slice(6).trim();
      } else if (line.startsWith('data:')) {
        this.data.push(line.slice(5).replace(/^ /, ''));
      }
    }
  }
}

export function formatEvent(event: string, data: string): string {
  if (event === 'reading') {
    const r = JSON.parse(data) as ReadingEvent;
    return `${new Date(r.ts).toISOString()}  ${r.series} = ${JSON.stringify(r.value)}${r.unit ? ` ${r.unit}` : ''}`;
  }
  if (event === 'alert') {
    const a = JSON.parse(data) as AlertEventPayload;
    const value = a.value === null ? '' : ` value ${a.value}`;
    return `${new Date(a.ts).toISOString()}  ALERT ${a.type.toUpperCase()} [${a.severity}] ${a.rule} ${a.series}${value}: ${a.reason}`;
  }
  if (event === 'dropped') return `# ${(JSON.parse(data) as { count: number }).count} events dropped: this terminal read too slowly`;
  return `# ${event}: ${data}`;
}

const tail: Command = {
  name: 'tail',
  summary: 'stream live readings and alerts from a running gateway',
  help,
  async run(argv) {
    const { flags, rest } = parseFlags(argv, { url: 'string', series: 'string', alerts: 'string', json: 'boolean' });
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    const params = new URLSearchParams();
    if (typeof flags.series === 'string') params.set('series', flags.series);
    if (typeof flags.alerts === 'string') {
      if (!['all', 'only', 'none'].includes(flags.alerts)) throw new UsageError(`--alerts ${flags.alerts}: use all, only or none`);
      params.set('alerts', flags.alerts);
    }
    const target = gatewayTarget(flags.url, `/api/tail${params.size ? `?${params}` : ''}`);
    const parser = new SseParser();
    return await new Promise<number>((resolve) => {
      const onResponse = (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => {
            process.stderr.write(`fieldmesh tail: ${target.href} answered ${res.statusCode}: ${body.slice(0, 500)}\n`);
            resolve(1);
          });
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (chunk: string) =>
          parser.feed(chunk, (event, data) => {
            try {
              const line = flags.json ? JSON.stringify({ event, ...(JSON.parse(data) as object) }) : formatEvent(event, data);
              process.stdout.write(line + '\n');
            } catch {
              process.stdout.write(`# unreadable ${event} event: ${data.slice(0, 200)}\n`);
            }
          }),
        );
        res.on('end', () => {
          process.stderr.write('fieldmesh tail: the gateway closed the stream\n');
          resolve(1);
        });
      };
      const req = (target.protocol === 'https:' ? getTls : get)(target, { headers: { accept: 'text/event-stream' } }, onResponse);
      req.on('error', (err) => {
        process.stderr.write(`fieldmesh tail: cannot reach ${target.origin}: ${err.message}\n`);
        resolve(1);
      });
      const stop = () => {
        req.destroy();
        resolve(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  },
};

export default tail;
