import { bool, int, section, type Check } from './checks.js';

/** Group commit and bad-input logging of the ingest path. */
export interface IngestConfig {
  /**
   * Ms a submission may wait for others to share its transaction. Default 0: commit on the next
   * event-loop turn; batches still grow with load, since what arrives during one commit's fsync
   * shares the next. Higher: fewer, larger commits at low load, later PUBACKs.
   */
  commitIntervalMs: number;
  /** Readings that trigger a commit at once. Default 5,000. */
  maxBatchReadings: number;
  /** Ms between two log lines about the same device's refused input. Default 60,000. */
  rejectLogIntervalMs: number;
  /**
   * Run commits on a worker thread, so the event loop keeps parsing MQTT while SQLite waits for
   * fsync. Default false. Worth it on slow storage (SD cards: fsync in milliseconds); on fast
   * storage the extra hop cost more than it saved when measured (test/bench/ingest.bench.ts).
   */
  commitThread: boolean;
}

export const ingestDefaults: IngestConfig = { commitIntervalMs: 0, maxBatchReadings: 5000, rejectLogIntervalMs: 60_000, commitThread: false };

export const checkIngest: Check<IngestConfig> = section<IngestConfig>(
  { commitIntervalMs: int(0, 1000), maxBatchReadings: int(1, 1_000_000), rejectLogIntervalMs: int(0, 86_400_000), commitThread: bool },
  ingestDefaults,
);
