/**
 * Waiting for a point on the monotonic clock. Node timers fire on whole milliseconds and often a
 * millisecond late, while the RTU inter-frame gap at 115200 baud is 1.75 ms: on the real clock
 * the tail is spent yielding with setImmediate (I/O still runs) so the gap is kept
 * without being doubled (SPIN_MS below). On a ManualClock (tests) it is one clock timer.
 */
import type { Clock } from '@fieldmesh/device-sdk';

/**
 * The tail of a wait spent yielding instead of sleeping: a sleeping timer wakes late by whole
 * milliseconds when the machine is busy, which at 9600 baud is a character or more per frame.
 * t3.5 is at most 4 ms at 9600 baud, so a gap is spun whole; longer waits sleep first.
 */
const SPIN_MS = 5;

export function waitUntil(clock: Clock, at: number, precise: boolean): Promise<void> {
  const left = at - clock.monotonic();
  if (left <= 0) return Promise.resolve();
  if (!precise) return new Promise((resolve) => clock.setTimeout(resolve, left));
  return new Promise((resolve) => {
    const spin = () => (clock.monotonic() >= at ? resolve() : setImmediate(spin));
    if (left > SPIN_MS) clock.setTimeout(spin, Math.floor(left - SPIN_MS));
    else setImmediate(spin);
  });
}
