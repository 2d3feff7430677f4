/**
 * Waiting for a point on the monotonic clock. Node timers fire on whole milliseconds and often a
 * millisecond late, while the RTU inter-frame gap at 115200 baud is 1.75 ms: on the real clock
 * the last millisecond is spent yielding with setImmediate (I/O still runs) so the gap is kept
 * without being doubled. On a ManualClock (tests) it is one clock timer.
 */
import type { Clock } from '@fieldmesh/device-sdk';

export function waitUntil(clock: Clock, at: number, precise: boolean): Promise<void> {
  const left = at - clock.monotonic();
  if (left <= 0) return Promise.resolve();
  if (!precise) return new Promise((resolve) => clock.setTimeout(resolve, left));
  return new Promise((resolve) => {
    const spin = () => (clock.monotonic() >= at ? resolve() : setImmediate(spin));
    if (left > 1.5) clock.setTimeout(spin, Math.floor(left - 1));
    else setImmediate(spin);
  });
}
