import { describe, expect, it } from 'vitest';
import { ManualClock, type Logger } from '@fieldmesh/device-sdk';
import { Ingest } from '#gateway/ingest/ingest';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import { StoreError } from '#gateway/store/errors';

/** A log whose appends fail while `full` (reject-new or a full disk), as the SQLite log does. */
class FullLog extends MemoryReadingLog {
  full = true;
  override append(...args: Parameters<MemoryReadingLog['append']>): ReturnType<MemoryReadingLog['append']> {
    if (this.full) throw new StoreError('FM_ERR_STORE_FULL', 'storage budget reached');
    return super.append(...args);
  }
}

describe('ingest when the store refuses commits', () => {
  it('refuses every submission (no PUBACK), logs rate-limited with the count, and resumes when the store takes data again', async () => {
    const errors: Array<Record<string, unknown>> = [];
    const logger: Logger = { debug() {}, info() {}, warn() {}, error: (o) => errors.push(o as Record<string, unknown>), child: () => logger };
    const clock = new ManualClock();
    const log = new FullLog();
    const ingest = new Ingest(log, { commitIntervalMs: 0, maxBatchReadings: 1, clock, logger });
    for (let i = 0; i < 50; i++) await expect(ingest.submit('dev1', [{ series: 'dev1/t', ts: 1, value: i }])).rejects.toThrow(/commit failed/);
    expect(errors.length).toBe(1);
    clock.advance(10_000);
    await expect(ingest.submit('dev1', [{ series: 'dev1/t', ts: 1, value: 50 }])).rejects.toThrow();
    expect(errors.length).toBe(2);
    expect(errors[1]!.failedCommits).toBe(50);
    expect(ingest.stats.snapshot().rejected.store_failed).toBe(51);
    log.full = false;
    await ingest.submit('dev1', [{ series: 'dev1/t', ts: 1, value: 51 }]);
    expect(log.readAfter(0, 10).map((r) => r.value)).toEqual([51]);
    await ingest.stop();
  });
});
