import type { RejectReason } from './errors.js';

/** Counters of the ingest path, read by `/metrics` and `/api/status`. */
export class IngestStats {
  /** Readings durably committed. */
  ingested = 0;
  /** Group commits (transactions). */
  commits = 0;
  /** Messages dropped because their (device, fm_seq) was already stored. */
  duplicates = 0;
  /** Open MQTT connections. */
  connections = 0;
  readonly rejected = new Map<RejectReason, number>();

  reject(reason: RejectReason): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  snapshot(): { ingested: number; commits: number; duplicates: number; connections: number; rejected: Record<string, number> } {
    return {
      ingested: this.ingested,
      commits: this.commits,
      duplicates: this.duplicates,
      connections: this.connections,
      rejected: Object.fromEntries(this.rejected),
    };
  }
}
