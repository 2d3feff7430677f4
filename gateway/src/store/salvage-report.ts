import type { ReadingLogMeta } from './reading-log-meta.js';

/** What a salvage did; kept in the new database's meta (`salvage`) and shown in status. */
export interface SalvageReport {
  at: number;
  /** Why the database was taken for corrupt. */
  reason: string;
  /** Where the damaged files were moved (never deleted). */
  movedTo: string;
  readingsCopied: number;
  /** Seq ranges whose rows could not be read (from the seqs around them). */
  unreadableRanges: Array<[number, number]>;
  /** Upper bound of readings lost in those ranges (seq span; deletes may have made it smaller). */
  unreadableReadings: number;
  /** Whether epoch and ack watermark were read from the damaged file (else: a new epoch). */
  keptIdentity: boolean;
}

export const SALVAGE_META_KEY = 'salvage';

/** The report of the salvage this database was born from (salvage.ts), if any. */
export function readSalvageReport(meta: ReadingLogMeta): Record<string, unknown> | null {
  const v = meta.get(SALVAGE_META_KEY);
  return v === undefined ? null : (JSON.parse(v) as Record<string, unknown>);
}
