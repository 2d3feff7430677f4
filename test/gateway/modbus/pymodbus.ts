/**
 * Debian's python3-pymodbus as the Modbus server under test (pymodbus-server.py) and mbpoll as a
 * second, independent reference client. Both are in .ci/apt-packages; a missing one is said
 * loudly and the tests that need it fail rather than pass silently.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'pymodbus-server.py');
/** Debian's interpreter: python3-pymodbus is installed for it, not for a pyenv shim on PATH. */
export const PYTHON = '/usr/bin/python3';

export function havePymodbus(): boolean {
  const ok = spawnSync(PYTHON, ['-c', 'import pymodbus.server'], { stdio: 'ignore' }).status === 0;
  if (!ok) console.error('\n!!! python3-pymodbus is missing: Modbus tests against a real server cannot run (apt-get install python3-pymodbus) !!!\n');
  return ok;
}

export function haveMbpoll(): boolean {
  const ok = spawnSync('mbpoll', ['-V'], { stdio: 'ignore' }).status !== null && spawnSync('sh', ['-c', 'command -v mbpoll'], { stdio: 'ignore' }).status === 0;
  if (!ok) console.error('\n!!! mbpoll is missing: the second reference client cannot run (apt-get install mbpoll) !!!\n');
  return ok;
}

export type Tables = { hr?: Record<number, number[]>; ir?: Record<number, number[]>; co?: Record<number, number[]>; di?: Record<number, number[]> };

export interface ServerRequest {
  unit: number;
  fc: number;
  address: number;
  count: number;
  ok: boolean;
}

export class PymodbusServer {
  private proc?: ChildProcess;
  readonly requests: ServerRequest[] = [];
  port = 0;
  stderr = '';

  constructor(
    private readonly cfg: { mode: 'tcp' | 'rtu'; port?: string; baud?: number; tcpPort?: number; slaves: Record<number, Tables> },
  ) {}

  async start(timeoutMs = 20_000): Promise<this> {
    const cfg = { ...this.cfg, ...(this.cfg.mode === 'tcp' && this.port ? { tcpPort: this.port } : {}) };
    const proc = spawn(PYTHON, [SCRIPT, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    let buf = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pymodbus did not start: ${this.stderr}`)), timeoutMs);
      proc.once('exit', (code) => reject(new Error(`pymodbus exited (${code}): ${this.stderr}`)));
      proc.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith('listening')) {
            const p = Number(line.split(' ')[1]);
            if (p) this.port = p;
            clearTimeout(timer);
            resolve();
          } else if (line.startsWith('{')) this.requests.push(JSON.parse(line) as ServerRequest);
        }
      });
    });
    return this;
  }

  /** SIGKILL: the device dies mid-poll, no goodbye on the wire. */
  async kill(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }

  /** Requests the server saw for `unit` and function `fc`. */
  count(unit: number, fc?: number): number {
    return this.requests.filter((r) => r.unit === unit && (fc === undefined || r.fc === fc)).length;
  }
}

/** Runs mbpoll once and returns the values it printed (`[ref]: value` lines). */
export function mbpoll(args: string[]): string[] {
  const r = spawnSync('mbpoll', [...args, '-1', '-0'], { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`mbpoll ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return [...r.stdout.matchAll(/^\[\d+\]:\s+(\S+)/gm)].map((m) => m[1]!);
}
