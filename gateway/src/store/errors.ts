/** Error catalog of the reading store. Code branches on `code`, never on message text. */
export const STORE_ERRORS = {
  FM_ERR_STORE_OPEN: 'The database file could not be opened. Check that dataDir exists, is writable by the gateway user and is not on a read-only or full filesystem.',
  FM_ERR_STORE_DURABILITY: 'SQLite did not accept journal_mode=WAL with synchronous=FULL, so acknowledged readings could be lost on power failure. Put dataDir on a local filesystem that supports WAL (not a network share).',
  FM_ERR_STORE_SCHEMA: 'The database was written by a newer fieldmesh (schema version above what this build knows). Upgrade fieldmesh, or point dataDir at a fresh directory.',
  FM_ERR_STORE_CLOSED: 'The reading log was used after close(). This is a programming error: stop producers before closing the store.',
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
