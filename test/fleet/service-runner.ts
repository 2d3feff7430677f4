import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/**
 * Plays systemd's part for the fieldmesh unit, since systemd is not PID 1 where the tests run:
 * starts ExecStart (the launcher, with /bin/sh) in its own process group (the unit's control
 * group), restarts it whenever its main process exits (Restart=always, a short RestartSec),
 * kills what is left of the group when the main process is gone (KillMode=control-group), stops
 * with SIGTERM to the group then SIGKILL after a timeout (TimeoutStopSec), and cuts the power by
 * SIGKILL of the whole group, after which it starts again as the next boot would. Not emulated:
 * the notify socket and watchdog (the gateway then confirms on its own 2 s timer), StartLimitBurst.
 */
export interface ServiceStart {
  pid: number;
  startedAt: number;
  exit?: { code: number | null; signal: NodeJS.Signals | null; at: number };
  output: string;
}

export interface ServiceRunnerOptions {
  /** ExecStart: run as `sh <execStart>`. */
  execStart: string;
  env: Record<string, string | undefined>;
  restartSec?: number;
  stopTimeoutSec?: number;
  /** Prefix for this service's lines when FM_TEST_SERVICE_LOG=1. */
  name?: string;
}

export class ServiceRunner {
  readonly starts: ServiceStart[] = [];
  private child: ChildProcess | undefined;
  private wanted = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ServiceRunnerOptions) {}

  /** Environment for the starts from now on (an edited unit, or the next boot's). */
  setEnv(env: Record<string, string | undefined>): void {
    this.opts.env = env;
  }

  get restarts(): number {
    return Math.max(0, this.starts.length - 1);
  }

  get current(): ServiceStart | undefined {
    return this.starts.at(-1);
  }

  /** All output of all starts, oldest first. */
  get output(): string {
    return this.starts.map((s) => s.output).join('');
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    this.wanted = true;
    this.spawnOnce();
  }

  private spawnOnce(): void {
    this.restartTimer = undefined;
    const child = spawn('/bin/sh', [this.opts.execStart], {
      detached: true,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...this.opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const s: ServiceStart = { pid: child.pid!, startedAt: Date.now(), output: '' };
    this.starts.push(s);
    this.child = child;
    const echo = process.env.FM_TEST_SERVICE_LOG === '1';
    const take = (d: Buffer) => {
      s.output += d.toString('utf8');
      if (echo) process.stderr.write(`[${this.opts.name ?? 'svc'} ${s.pid}] ${d.toString('utf8')}`);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    child.on('exit', (code, signal) => {
      s.exit = { code, signal, at: Date.now() };
      // The main process is gone: nothing else of the unit may stay (KillMode=control-group).
      this.killGroup(s.pid, 'SIGKILL');
      if (this.child === child) this.child = undefined;
      if (this.wanted) this.restartTimer = setTimeout(() => this.spawnOnce(), (this.opts.restartSec ?? 0.2) * 1000);
    });
  }

  private killGroup(pid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is empty already
    }
  }

  private async waitExit(child: ChildProcess, ms: number): Promise<boolean> {
    if (child.exitCode !== null || child.signalCode !== null) return true;
    const timer = new Promise<false>((r) => setTimeout(() => r(false), ms).unref());
    return Promise.race([once(child, 'exit').then(() => true), timer]);
  }

  /** `systemctl stop`: SIGTERM to the group, SIGKILL after stopTimeoutSec. Returns the last start. */
  async stop(): Promise<ServiceStart | undefined> {
    this.wanted = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (child) {
      const pid = child.pid!;
      this.killGroup(pid, 'SIGTERM');
      if (!(await this.waitExit(child, (this.opts.stopTimeoutSec ?? 10) * 1000))) {
        this.killGroup(pid, 'SIGKILL');
        await this.waitExit(child, 5000);
      }
    }
    return this.current;
  }

  /** Power cut: SIGKILL of every process of the unit at once; `boot` starts it again. */
  async powerCut(opts: { boot?: boolean } = {}): Promise<void> {
    const child = this.child;
    this.wanted = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (child) {
      this.killGroup(child.pid!, 'SIGKILL');
      await this.waitExit(child, 5000);
    }
    if (opts.boot ?? true) this.start();
  }
}
