import { pino, type Logger as PinoLogger } from 'pino';
import type { Logger } from '@fieldmesh/device-sdk';
import { UsageError } from './command.js';

/**
 * The programs' log output: JSON lines (pino, for journald and log shippers) or a human format
 * (`--log-format pretty` or `FM_LOG=pretty`): `12:00:01.234 INFO  mesh: member joined id=gw-b`.
 *
 * Components bind their name with `logger.child({ component })` and some also pass
 * `{ component }` in a line; pino writes bindings and line fields side by side, so a nested
 * component gave a JSON line with two "component" keys. This logger keeps the fields of every
 * child merged in one object (the innermost value wins), so each key appears once. It also keeps
 * one level for the whole tree, so SIGHUP can change it (pino children copy the level at birth).
 */
export type LogFormat = 'json' | 'pretty';
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const VALUES: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
const NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** The format from the flag, else FM_LOG, else JSON. An unknown name is a usage error. */
export function logFormat(flag: string | boolean | undefined, env: NodeJS.ProcessEnv = process.env): LogFormat {
  const v = typeof flag === 'string' ? flag : (env.FM_LOG ?? 'json');
  if (v !== 'json' && v !== 'pretty') throw new UsageError(`log format ${JSON.stringify(v)} is not json or pretty (--log-format, FM_LOG)`);
  return v;
}

export function checkLogLevel(v: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(v)) throw new UsageError(`log level ${JSON.stringify(v)} is not one of ${LOG_LEVELS.join(', ')}`);
  return v as LogLevel;
}

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  return JSON.stringify(v) ?? String(v);
}

/** One JSON log line as a human reads it. Exported for its test. */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const { level, time, msg, component, pid: _pid, hostname: _host, ...rest } = o;
  const t = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
  const lvl = (NAMES[level as number] ?? String(level)).padEnd(5);
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${k === 'err' && v && typeof v === 'object' && 'message' in v ? value((v as { message: unknown }).message) : value(v)}`)
    .join(' ');
  return `${t} ${lvl} ${component ? `${String(component)}: ` : ''}${String(msg ?? '')}${fields ? `  ${fields}` : ''}`;
}

class TreeLogger implements Logger {
  constructor(
    private readonly root: PinoLogger,
    private readonly shared: { level: number },
    private readonly bindings: Record<string, unknown>,
  ) {}

  private write(level: LogLevel, obj: object, msg?: string): void {
    if (VALUES[level] < this.shared.level) return;
    this.root[level as 'info']({ ...this.bindings, ...obj }, msg);
  }

  trace(obj: object, msg?: string): void {
    this.write('trace', obj, msg);
  }
  debug(obj: object, msg?: string): void {
    this.write('debug', obj, msg);
  }
  info(obj: object, msg?: string): void {
    this.write('info', obj, msg);
  }
  warn(obj: object, msg?: string): void {
    this.write('warn', obj, msg);
  }
  error(obj: object, msg?: string): void {
    this.write('error', obj, msg);
  }
  fatal(obj: object, msg?: string): void {
    this.write('fatal', obj, msg);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new TreeLogger(this.root, this.shared, { ...this.bindings, ...bindings });
  }
}

export interface ProgramLogger extends Logger {
  /** Changes the level of this logger and every child of it. */
  setLevel(level: LogLevel): void;
}

/** The logger of one program, writing to stderr (fd 2) or `out`. */
export function programLogger(opts: { level: LogLevel; format: LogFormat; out?: { write(s: string): unknown } }): ProgramLogger {
  const out = opts.out ?? pino.destination(2);
  const stream = opts.format === 'pretty' ? { write: (s: string) => out.write(prettyLine(s) + '\n') } : out;
  const root = pino({ level: 'trace', serializers: { err: pino.stdSerializers.err } }, stream as pino.DestinationStream);
  const shared = { level: VALUES[opts.level] };
  const tree = new TreeLogger(root, shared, {});
  return Object.assign(tree, {
    setLevel(level: LogLevel) {
      shared.level = VALUES[level];
    },
  }) as TreeLogger & ProgramLogger;
}
