import { spawn } from 'node:child_process';

/**
 * Sends sd_notify(3) state lines ("READY=1", "WATCHDOG=1", "STATUS=…") to the service manager.
 *
 * The protocol is one unix datagram per message on the socket named by $NOTIFY_SOCKET. Node.js
 * has no unix datagram sockets (dgram is UDP only), so the real transport runs `systemd-notify`,
 * which ships with systemd on every Raspberry Pi OS. Two consequences, both handled:
 * - the sender is a child process, so the unit needs `NotifyAccess=all`;
 * - systemd must find the child's cgroup while it is still alive, so we keep systemd-notify's
 *   default barrier (it waits until the manager has read the message) instead of `--no-block`.
 * It costs one fork/exec per ping (every WatchdogSec/2 = 10 s by default): a few ms of CPU.
 */
export interface NotifyTransport {
  /** Sends the assignments as one message. Rejects when the manager did not get it. */
  send(assignments: string[]): Promise<void>;
}

/** Only KEY=VALUE lines with a single-line value; anything else could forge other assignments. */
export function checkAssignment(a: string): void {
  if (!/^[A-Z_]+=[^\n\0]*$/u.test(a)) throw new Error(`sd_notify assignment ${JSON.stringify(a)} is not KEY=VALUE on one line`);
}

export interface SystemdNotifyOptions {
  /** The socket path ($NOTIFY_SOCKET). */
  socket: string;
  /** Binary to run; default `systemd-notify` from PATH. */
  command?: string;
  /** Kill the child after this many ms (its own barrier timeout is 5 s). */
  timeoutMs?: number;
}

export class SystemdNotifyCommand implements NotifyTransport {
  private readonly command: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: SystemdNotifyOptions) {
    if (!options.socket) throw new Error('SystemdNotifyCommand: socket is empty; pass $NOTIFY_SOCKET');
    this.command = options.command ?? 'systemd-notify';
    this.timeoutMs = options.timeoutMs ?? 8000;
  }

  send(assignments: string[]): Promise<void> {
    assignments.forEach(checkAssignment);
    return new Promise((resolve, reject) => {
      const child = spawn(this.command, assignments, {
        env: { ...process.env, NOTIFY_SOCKET: this.options.socket },
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: this.timeoutMs,
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        if (stderr.length < 1000) stderr += d.toString('utf8');
      });
      child.on('error', reject);
      child.on('close', (code, signal) => {
        if (code === 0) resolve();
        else reject(new Error(`${this.command} ${assignments.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
      });
    });
  }
}

/** In-memory twin: records what would have been sent. */
export class RecordingNotifyTransport implements NotifyTransport {
  readonly sent: string[][] = [];
  /** Set to make the next sends fail (a manager that went away). */
  failWith: Error | undefined;

  async send(assignments: string[]): Promise<void> {
    assignments.forEach(checkAssignment);
    if (this.failWith) throw this.failWith;
    this.sent.push([...assignments]);
  }
}
