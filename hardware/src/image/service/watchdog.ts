import { silentLogger, systemClock, type Clock, type Logger, type Timer } from '@fieldmesh/device-sdk';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import { SystemdNotifyCommand, type NotifyTransport } from './notify-transport.js';

/**
 * Tells systemd the gateway is ready, alive and stopping (sd_notify), and keeps the watchdog fed.
 *
 * The pings are scheduled on the event loop (clock.setTimeout), never from a worker or child
 * that could keep running while the loop is stuck: a hung loop stops them, and after WatchdogSec
 * systemd kills the process and `Restart=on-failure` starts it again. A `healthy` callback can
 * hold pings back on purpose (e.g. the store stopped committing), with the same effect.
 */
export interface ServiceNotifierOptions {
  transport: NotifyTransport;
  /** Watchdog period in µs from $WATCHDOG_USEC; 0 or absent = no watchdog (pings off). */
  watchdogUsec?: number;
  clock?: Clock;
  logger?: Logger;
  /** Checked before each ping; false skips the ping. */
  healthy?: () => boolean;
}

export interface ServiceNotifierStats {
  pingsSent: number;
  pingsFailed: number;
  pingsSkippedUnhealthy: number;
}

export class ServiceNotifier {
  readonly intervalMs: number;
  readonly stats: ServiceNotifierStats = { pingsSent: 0, pingsFailed: 0, pingsSkippedUnhealthy: 0 };
  private readonly clock: Clock;
  private readonly log: Logger;
  private timer: Timer | undefined;
  private running = false;
  /** At most one line a minute: a broken notify socket must not flood the journal. */
  private readonly failureLog: RateLimitedLog;

  constructor(private readonly options: ServiceNotifierOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({ component: 'sd-notify' });
    this.failureLog = new RateLimitedLog(this.log, this.clock, { intervalMs: 60_000, countZero: false });
    const usec = options.watchdogUsec ?? 0;
    if (!Number.isFinite(usec) || usec < 0) throw new Error(`WATCHDOG_USEC=${usec}: expected a non-negative number of microseconds`);
    // sd_watchdog_enabled(3): ping at half the period so one late timer is not fatal.
    this.intervalMs = usec > 0 ? Math.max(1, Math.floor(usec / 2000)) : 0;
  }

  /**
   * From the environment systemd sets: NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (the
   * watchdog is meant for us only if WATCHDOG_PID is our pid or absent). Returns undefined when
   * not run by systemd with Type=notify.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, options: Omit<ServiceNotifierOptions, 'transport' | 'watchdogUsec'> = {}): ServiceNotifier | undefined {
    const socket = env.NOTIFY_SOCKET;
    if (!socket) return undefined;
    const pidOk = env.WATCHDOG_PID === undefined || env.WATCHDOG_PID === String(process.pid);
    const usec = pidOk && env.WATCHDOG_USEC ? Number(env.WATCHDOG_USEC) : 0;
    return new ServiceNotifier({ ...options, transport: new SystemdNotifyCommand({ socket }), watchdogUsec: Number.isFinite(usec) ? usec : 0 });
  }

  /** Sends READY=1 and starts the watchdog pings. */
  async ready(status = 'running'): Promise<void> {
    await this.send(['READY=1', `STATUS=${status}`]);
    this.running = true;
    this.schedule();
  }

  async status(text: string): Promise<void> {
    await this.send([`STATUS=${text.replace(/[\n\0]/gu, ' ').slice(0, 200)}`]);
  }

  /** Sends STOPPING=1 and stops pinging. */
  async stopping(): Promise<void> {
    this.stop();
    await this.send(['STOPPING=1']);
  }

  /** Stops pinging without telling systemd (tests, or a process that is about to exit). */
  stop(): void {
    this.running = false;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (!this.running || this.intervalMs === 0) return;
    this.timer = this.clock.setTimeout(() => this.tick(), this.intervalMs);
    this.timer.unref?.();
  }

  private tick(): void {
    if (!this.running) return;
    if (this.options.healthy && !this.options.healthy()) {
      this.stats.pingsSkippedUnhealthy++;
      this.warn('gateway reports unhealthy: withholding the watchdog ping so systemd restarts it');
      this.schedule();
      return;
    }
    this.send(['WATCHDOG=1']).then(
      () => {
        this.stats.pingsSent++;
      },
      (err: Error) => {
        this.stats.pingsFailed++;
        this.warn(`watchdog ping failed: ${err.message}`);
      },
    );
    this.schedule();
  }

  private send(assignments: string[]): Promise<void> {
    return this.options.transport.send(assignments);
  }

  private warn(msg: string): void {
    this.failureLog.warn('failure', { stats: { ...this.stats } }, msg);
  }
}
