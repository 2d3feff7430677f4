/**
 * How the long-running commands (`gateway`, `cloud`) wait: until SIGINT or SIGTERM, with SIGHUP
 * reloading the config instead of killing the process (its default). Both install these before
 * printing their ready lines, so a supervisor's SIGTERM sent on reading them stops cleanly.
 */
/** Resolves at SIGINT/SIGTERM; SIGHUP calls `onHup` until then. */
export function untilSignal(onHup: () => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.off('SIGHUP', onHup);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.on('SIGHUP', onHup);
  });
}
