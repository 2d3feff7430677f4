/**
 * Real pseudo-terminal pairs from socat: `link` paths stand in for /dev/serial/by-id names, and a
 * restarted pair re-creates the same links pointing at new /dev/pts entries, as a re-plugged
 * USB adapter does.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync } from 'node:fs';
import { waitFor } from '../../wait-for.js';

export function haveSocat(): boolean {
  const ok = spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
  if (!ok) console.error('\n!!! socat is missing: real pseudo-terminal tests cannot run (apt-get install socat) !!!\n');
  return ok;
}

export class PtyPair {
  private proc?: ChildProcess;

  /** `device` is the end the gateway opens; `sensor` the end the test writes to as the sensor. */
  constructor(
    readonly device: string,
    readonly sensor: string,
  ) {}

  async start(timeoutMs = 20_000): Promise<void> {
    const proc = spawn('socat', [`pty,raw,echo=0,link=${this.device}`, `pty,raw,echo=0,link=${this.sensor}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error(`socat exited: ${stderr}`);
        return existsSync(this.device) && existsSync(this.sensor);
      },
      `socat to create ${this.device}`,
      timeoutMs,
      { everyMs: 10, detail: () => stderr },
    );
  }

  /** Kills socat: both ends vanish, like a pulled cable. Resolves when the links are gone. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
    const gone = (p: string) => {
      try {
        lstatSync(p);
        return false;
      } catch {
        return true;
      }
    };
    await waitFor(() => gone(this.device) && gone(this.sensor), `the links of ${this.device} to go`, 10_000, { everyMs: 10 });
  }
}
