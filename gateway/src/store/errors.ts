/** Error catalog of the reading store. Code branches on `code`, never on message text. */
export const STORE_ERRORS = {
  FM_ERR_STORE_OPEN: 'The database file could not be opened. Check that dataDir exists, is writable by the gateway user and is not on a read-only or full filesystem.',
  FM_ERR_STORE_DURABILITY: 'SQLite did not accept journal_mode=WAL with synchronous=FULL, so acknowledged readings could be lost on power failure. Put dataDir on a local filesystem that supports WAL (not a network share).',
  FM_ERR_STORE_SCHEMA: 'The database was written by a newer fieldmesh (schema version above what this build knows). Upgrade fieldmesh, or point dataDir at a fresh directory.',
  FM_ERR_STORE_CLOSED: 'The reading log was used after close(). This is a programming error: stop producers before closing the store.',
  FM_ERR_STORE_COMMIT: 'A transaction failed (disk full, I/O error, commit thread died). Nothing of it is stored and nothing was acknowledged; devices resend. Free space on the data directory disk or check its health.',
  FM_ERR_STORE_BUSY: 'A synchronous append was attempted while an appendAsync was in flight (sequence numbers would collide). This is a programming error: use one append path at a time.',
  FM_ERR_STORE_LOCKED: 'Another fieldmesh gateway process is using this data directory; two writers would give readings the same sequence numbers. Stop the other process, or give this gateway its own dataDir.',
  FM_ERR_STORE_FULL: 'The storage budget is reached under policy reject-new, or the disk is full: the readings were refused (counted as loss "refused"), devices got no PUBACK and resend. Raise storage.budgetBytes, choose policy downsample or drop-oldest, restore the uplink so acknowledged data can be pruned, or free disk space.',
  FM_ERR_STORE_INPUT: 'A reading handed to the store is malformed (series name, timestamp or value type). Validate readings at ingest before appending.',
} as const;

export type StoreErrorCode = keyof typeof STORE_ERRORS;

export class StoreError extends Error {
  override name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    detail: string,
  ) {
    super(`${detail} (${code}: ${STORE_ERRORS[code]})`);
  }
}
