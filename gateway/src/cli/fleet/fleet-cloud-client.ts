import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { UsageError } from '../command.js';
import { CliError } from '../errors.js';

/** The cloud bridge's default HTTP address (cloud.yaml `http`), for a CLI run on the cloud host. */
const defaultCloudUrl = 'http://127.0.0.1:8080';
/** A JSON request (GET /api/fleet of a big fleet included) that takes longer than this is hung. */
const JSON_TIMEOUT_MS = 30_000;
/** Cloud answers are read up to this size; a fleet of thousands stays well under it. */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

export interface CloudAnswer {
  status: number;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  json: unknown;
}

/**
 * The fleet routes of one cloud bridge (cloud-bridge/src/http/HTTP.md), with the fleet token as
 * bearer. Every non-2xx answer is a FM_ERR_CLI_FLEET_REFUSED naming the request and showing the
 * cloud's own `{ error, code }`, so the operator sees the cloud's reason, not a guess.
 */
export class FleetCloudClient {
  private constructor(
    readonly base: URL,
    private readonly token: string,
  ) {}

  /** From --url/--token, else FM_CLOUD_URL/FM_FLEET_TOKEN; a missing token is a usage error. */
  static fromFlags(flags: Record<string, string | boolean>, env: NodeJS.ProcessEnv = process.env): FleetCloudClient {
    const url = typeof flags.url === 'string' ? flags.url : env.FM_CLOUD_URL || defaultCloudUrl;
    let base: URL;
    try {
      base = new URL(url);
    } catch {
      throw new UsageError(`--url ${url} is not a URL (the cloud's HTTP address, e.g. http://cloud.example:8080)`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new UsageError(`--url ${url}: only http:// and https:// are served by the cloud bridge`);
    const token = typeof flags.token === 'string' ? flags.token : env.FM_FLEET_TOKEN;
    if (!token) throw new UsageError('no token: pass --token TOKEN or set FM_FLEET_TOKEN (a fleet admin token of the cloud; reading commands also take a live token)');
    return new FleetCloudClient(base, token);
  }

  get(path: string): Promise<CloudAnswer> {
    return this.request('GET', path);
  }

  /** GET that answers null for a 404 (the thing is not there yet) instead of refusing. */
  async getIfThere(path: string): Promise<CloudAnswer | null> {
    const answer = await this.send('GET', path);
    return answer.status === 404 ? null : accepted(answer);
  }

  putJson(path: string, body: unknown): Promise<CloudAnswer> {
    return this.request('PUT', path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  }

  postJson(path: string, body: unknown): Promise<CloudAnswer> {
    return this.request('POST', path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  }

  /**
   * Streams a file as the raw body (a bundle is tens of MiB: never read into memory). The deadline
   * grows with the size, at a floor of 64 KiB/s, so a slow link still finishes and a hung one does not hang the shell.
   */
  putFile(path: string, file: string, bytes: number, contentType: string): Promise<CloudAnswer> {
    const body = Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>;
    return this.request('PUT', path, { body, headers: { 'content-type': contentType, 'content-length': String(bytes) }, timeoutMs: JSON_TIMEOUT_MS + Math.ceil((bytes / 65_536) * 1000) });
  }

  private async request(method: string, path: string, opts: RequestOptions = {}): Promise<CloudAnswer> {
    return accepted(await this.send(method, path, opts));
  }

  /** Any HTTP answer, read and parsed; only a cloud that cannot be reached throws here. */
  private async send(method: string, path: string, opts: RequestOptions = {}): Promise<SentRequest> {
    const target = new URL(path, this.base);
    let res: Response;
    try {
      res = await fetch(target, {
        method,
        headers: { authorization: `Bearer ${this.token}`, accept: 'application/json', ...opts.headers },
        ...(opts.body !== undefined ? { body: opts.body, duplex: 'half' } : {}),
        signal: AbortSignal.timeout(opts.timeoutMs ?? JSON_TIMEOUT_MS),
        redirect: 'error',
      } as RequestInit);
    } catch (err) {
      const e = err as Error & { cause?: { message?: string; code?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${Math.round((opts.timeoutMs ?? JSON_TIMEOUT_MS) / 1000)} s` : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new CliError('FM_ERR_CLI_FLEET_UNREACHABLE', `${method} ${target.href}: ${why}`);
    }
    const text = await readCapped(res);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { method, target, ok: res.ok, status: res.status, text, json };
  }
}

type RequestOptions = { body?: string | ReadableStream<Uint8Array>; headers?: Record<string, string>; timeoutMs?: number };
type SentRequest = CloudAnswer & { method: string; target: URL; ok: boolean };

/** The answer of a 2xx; any other status is the cloud's refusal, with its reason. */
function accepted(a: SentRequest): CloudAnswer {
  if (!a.ok) throw new CliError('FM_ERR_CLI_FLEET_REFUSED', `${a.method} ${a.target.pathname} answered ${a.status}: ${refusalText(a.status, a.text, a.json)}`);
  return { status: a.status, text: a.text, json: a.json };
}

/** The cloud's `{ error, code }` as JSON when it sent one, else the start of its body. */
function refusalText(status: number, text: string, json: unknown): string {
  const hint = status === 401 ? ' (the token was not accepted: pass a fleet admin token with --token or FM_FLEET_TOKEN)' : status === 403 ? ' (this token may read but not change the fleet: use a fleet admin token)' : '';
  if (json && typeof json === 'object') return JSON.stringify(json).slice(0, 2000) + hint;
  return (text.trim().slice(0, 500) || '(empty body)') + hint;
}

async function readCapped(res: Response): Promise<string> {
  if (!res.body) return '';
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > MAX_ANSWER_BYTES) throw new CliError('FM_ERR_CLI_FLEET_REFUSED', `the cloud's answer is over ${MAX_ANSWER_BYTES} bytes; not read further`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}
