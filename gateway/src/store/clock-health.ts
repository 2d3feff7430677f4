import { existsSync, readFileSync } from 'node:fs';

/**
 * Time without a real-time clock: a Raspberry Pi boots with a wrong wall clock (1970,
 * or the last shutdown's fake-hwclock time) until NTP syncs. While the wall clock is not known
 * good, the reading log stores with each reading the boot id, the monotonic time and the
 * wall-minus-monotonic offset, marks its timestamp uncertain, and corrects it once the clock is
 * good (same boot only: a monotonic clock means nothing across boots).
 */
export interface ClockHealth {
  /** Whether wall time `wallMs` can be trusted now. */
  wallKnownGood(wallMs: number): boolean;
}

/** No wall time before this can be right: the build of this code is later. */
export const BUILD_FLOOR_MS = Date.UTC(2026, 0, 1);
/** systemd-timesyncd creates this once the clock is synchronised (systemd-timesyncd.service(8)). */
export const TIMESYNC_FILE = '/run/systemd/timesync/synchronized';
export const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

/**
 * The real health check: synchronised per systemd-timesyncd, or else at least no earlier than
 * the build floor and the last wall time known good on this gateway (persisted in the database),
 * so a boot at 1970 or a clock set back is caught. A jump forward without a sync source cannot be
 * told from real time passing; order and eviction never depend on wall time, so it loses nothing.
 */
export class SystemClockHealth implements ClockHealth {
  constructor(
    private readonly lastKnownGood: () => number = () => 0,
    private readonly opts: { syncFile?: string; floorMs?: number } = {},
  ) {}

  wallKnownGood(wallMs: number): boolean {
    if (existsSync(this.opts.syncFile ?? TIMESYNC_FILE)) return true;
    return wallMs >= Math.max(this.opts.floorMs ?? BUILD_FLOOR_MS, this.lastKnownGood());
  }
}

/** For tests and the simulator: health as set. */
export class ManualClockHealth implements ClockHealth {
  constructor(public good = true) {}
  wallKnownGood(): boolean {
    return this.good;
  }
}

/** This boot's id (changes at every boot); a fixed stand-in where the kernel file is missing. */
export function readBootId(file = BOOT_ID_FILE): string {
  try {
    return readFileSync(file, 'utf8').trim() || 'unknown-boot';
  } catch {
    return 'unknown-boot';
  }
}
