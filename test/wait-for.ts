/**
 * The one polling helper of the test tree: checks `cond` until it gives a value (anything but
 * `undefined`, `null` or `false`), then returns that value; past `deadlineMs` it throws naming
 * `what` (and `detail()`, when given, for the state that was not reached). Between checks it
 * waits `everyMs`, or runs `between` instead (a simulated world pumps its time there).
 * Tests wait on a condition or a counter with a deadline, never for a fixed time.
 */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  what: string,
  deadlineMs = 30_000,
  opts: { everyMs?: number; between?: () => Promise<unknown>; detail?: () => string } = {},
): Promise<Exclude<T, undefined | null | false>> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== null && v !== false) return v as Exclude<T, undefined | null | false>;
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${opts.detail ? `: ${opts.detail()}` : ''}`);
    if (opts.between) await opts.between();
    else await new Promise((r) => setTimeout(r, opts.everyMs ?? 20));
  }
}
