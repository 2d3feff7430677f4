import type { Clock, Timer } from '@fieldmesh/device-sdk';

/**
 * The relay's periodic work (route, replicator, replica keeper): `step` runs at start and then
 * every `everyMs` until stopped. A step that throws goes to `onError` and the loop goes on: it
 * never dies, so a log read error or a peer list glitch is retried at the next step. The timer
 * is unref'd: a pending step never keeps the process alive. Time comes from the injected clock.
 */
export class StepLoop {
  private timer: Timer | null = null;
  private on = false;

  constructor(
    private readonly opts: {
      clock: Clock;
      everyMs: number;
      step: () => void;
      onError: (err: Error) => void;
    },
  ) {}

  get running(): boolean {
    return this.on;
  }

  start(): void {
    if (this.on) return;
    this.on = true;
    this.tick();
  }

  stop(): void {
    this.on = false;
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private tick(): void {
    if (!this.on) return;
    try {
      this.opts.step();
    } catch (err) {
      this.opts.onError(err instanceof Error ? err : new Error(String(err)));
    }
    // The step may have stopped the loop (stop() from inside): no new timer then.
    if (!this.on) return;
    this.timer = this.opts.clock.setTimeout(() => this.tick(), this.opts.everyMs);
    this.timer.unref?.();
  }
}
