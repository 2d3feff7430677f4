import type { Clock, Timer } from '@fieldmesh/device-sdk';

/** What a trial start checks about the gateway it runs in. */
export interface TrialProbe {
  /** The reading log is open and answers. */
  readingLogOpen(): boolean;
  uplinkOnline(): boolean;
  /** A reading committed since start, or the device broker listening. */
  ingestWorking(): boolean;
}

/**
 * Decides when a new release or config (started by the launcher with FM_FLEET_TRIAL=1) is
 * healthy enough to keep: its event loop has run for two watchdog intervals without a stall (2 s
 * without systemd), the reading log is open, and the uplink is connected when it was before the
 * switch, else ingest works (the uplink may be down for reasons of its own). Until then the
 * launcher's deadline runs; a gateway that never confirms is rolled back.
 */
export class TrialConfirmation {
  private readonly needMs: number;
  private readonly stallMs: number;
  private readonly tickMs: number;
  private aliveSince: number;
  private lastTick: number;
  private timer: Timer | null = null;
  private done = false;

  constructor(
    private readonly o: { clock: Clock; watchdogMs: number; uplinkWasUp: boolean; probe: TrialProbe; onConfirmed: () => void },
  ) {
    this.needMs = o.watchdogMs > 0 ? 2 * o.watchdogMs : 2000;
    // A gap longer than a watchdog interval is a stall systemd would have killed us for.
    this.stallMs = o.watchdogMs > 0 ? o.watchdogMs : 1000;
    this.tickMs = Math.max(10, Math.min(250, Math.floor(this.needMs / 8)));
    this.aliveSince = this.lastTick = o.clock.monotonic();
  }

  start(): void {
    this.aliveSince = this.lastTick = this.o.clock.monotonic();
    this.schedule();
  }

  stop(): void {
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** What is still missing, for the log and the reported state. */
  missing(): string[] {
    const now = this.o.clock.monotonic();
    const out: string[] = [];
    if (now - this.aliveSince < this.needMs) out.push(`event loop ${Math.round(now - this.aliveSince)} of ${this.needMs} ms`);
    if (!this.o.probe.readingLogOpen()) out.push('reading log');
    if (this.o.uplinkWasUp ? !this.o.probe.uplinkOnline() : !this.o.probe.ingestWorking()) out.push(this.o.uplinkWasUp ? 'uplink' : 'ingest');
    return out;
  }

  private schedule(): void {
    const t = this.o.clock.setTimeout(() => this.tick(), this.tickMs);
    t.unref?.();
    this.timer = t;
  }

  private tick(): void {
    this.timer = null;
    if (this.done) return;
    const now = this.o.clock.monotonic();
    if (now - this.lastTick > this.stallMs + this.tickMs) this.aliveSince = now;
    this.lastTick = now;
    let missing: string[];
    try {
      missing = this.missing();
    } catch {
      missing = ['probe'];
    }
    if (missing.length === 0) {
      this.done = true;
      this.o.onConfirmed();
      return;
    }
    this.schedule();
  }
}
