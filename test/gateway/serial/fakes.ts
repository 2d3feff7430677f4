import type { Logger, Reading } from '@fieldmesh/device-sdk';
import type { IngestSink } from '#gateway/ingest/sink';

/** Stands in for the gateway's Ingest: records submissions; can refuse or hold them. */
export class RecordingSink implements IngestSink {
  readonly batches: { device: string; readings: Reading[] }[] = [];
  refuse = false;
  hold = false;
  private held: (() => void)[] = [];

  submit(device: string, readings: readonly Reading[]): Promise<void> {
    if (this.refuse) return Promise.reject(Object.assign(new Error('refused'), { code: 'FM_ERR_INGEST_TEST' }));
    this.batches.push({ device, readings: [...readings] });
    if (this.hold) return new Promise((resolve) => this.held.push(resolve));
    return Promise.resolve();
  }

  release(): void {
    for (const r of this.held.splice(0)) r();
  }

  readings(): Reading[] {
    return this.batches.flatMap((b) => b.readings);
  }
}

export interface LogLine {
  level: string;
  obj: object;
  msg?: string;
}

export function recordingLogger(lines: LogLine[] = [], bindings: object = {}): Logger & { lines: LogLine[] } {
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj: { ...bindings, ...obj }, msg });
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (b) => recordingLogger(lines, { ...bindings, ...b }),
  };
}

export const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Waits for `cond` with a deadline (no fixed sleeps: the machine is shared and slow at times). */
export { waitFor } from '../../wait-for.js';
