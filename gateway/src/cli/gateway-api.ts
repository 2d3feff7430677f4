import { UsageError } from './command.js';

/** Where the CLI looks for a gateway when no --url is given (the config's default http port). */
export const defaultGatewayUrl = 'http://127.0.0.1:8081';

/** `path` resolved against the --url flag; a malformed --url is the user's mistake (exit 2). */
export function gatewayTarget(url: unknown, path: string): URL {
  const base = typeof url === 'string' ? url : defaultGatewayUrl;
  try {
    return new URL(path, base);
  } catch {
    throw new UsageError(`--url ${base} is not a URL`);
  }
}

export interface GatewayAnswer {
  ok: boolean;
  status: number;
  text: string;
}

/**
 * GET `target` with a deadline (a hung gateway must not hang the shell). When the gateway cannot
 * be reached, says so on stderr as `fieldmesh <command>: cannot reach <shownAs>: …` and returns
 * undefined; any HTTP answer, error statuses included, goes back to the caller.
 */
export async function fetchFromGateway(
  command: string,
  target: URL,
  opts: { timeoutMs?: number; shownAs?: string; headers?: Record<string, string> } = {},
): Promise<GatewayAnswer | undefined> {
  let res: Response;
  try {
    res = await fetch(target, { signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000), ...(opts.headers ? { headers: opts.headers } : {}) });
  } catch (err) {
    process.stderr.write(`fieldmesh ${command}: cannot reach ${opts.shownAs ?? target.href}: ${(err as Error).message}\n`);
    return undefined;
  }
  return { ok: res.ok, status: res.status, text: await res.text() };
}

/**
 * The body of a successful GET of `path`, or undefined after one line on stderr saying why not
 * (unreachable, or a non-2xx answer with the start of its body).
 */
export async function readGatewayApi(command: string, url: unknown, path: string): Promise<string | undefined> {
  const target = gatewayTarget(url, path);
  const answer = await fetchFromGateway(command, target);
  if (!answer) return undefined;
  if (!answer.ok) {
    process.stderr.write(`fieldmesh ${command}: ${target.href} answered ${answer.status}: ${answer.text.slice(0, 500)}\n`);
    return undefined;
  }
  return answer.text;
}
