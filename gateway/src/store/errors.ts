import { CodedError } from '@fieldmesh/device-sdk/coded-error';

/** Error catalog of the reading store. Code branches on `code`, never on message text. */
export const STORE_ERRORS = {
  FM_ERR_STORE_OPEN: {
    meaning: 'The database file could not be opened.',
    howToSolve: 'Check that dataDir exists, is writable by the gateway user and is not on a read-only or full filesystem.',
  },
  FM_ERR_STORE_DURABILITY: {
    meaning: 'SQLite did not accept journal_mode=WAL with synchronous=FULL, so acknowledged readings could be lost on power failure.',
    howToSolve: 'Put dataDir on a local filesystem that supports WAL (not a network share).',
  },
  FM_ERR_STORE_SCHEMA: {
    meaning: 'The database was migrated by a newer fieldmesh to a schema this build cannot use: a non-additive migration raised its compat version above what this build knows (or a migration is wrongly declared additive).',
    howToSolve: 'Roll forward: run a fieldmesh release that knows the schema version the message names, or later. The reading log is left as it was; there is no down-migration, so do not delete it to make an older release start.',
  },
  FM_ERR_STORE_CLOSED: {
    meaning: 'The reading log was used after close().',
    howToSolve: 'This is a programming error: stop producers before closing the store.',
  },
  FM_ERR_STORE_COMMIT: {
    meaning: 'A transaction failed (disk full, I/O error, commit thread died). Nothing of it is stored and nothing was acknowledged; devices resend.',
    howToSolve: 'Free space on the data directory disk or check its health.',
  },
  FM_ERR_STORE_BUSY: {
    meaning: 'A synchronous append was attempted while an appendAsync was in flight (sequence numbers would collide).',
    howToSolve: 'This is a programming error: use one append path at a time.',
  },
  FM_ERR_STORE_LOCKED: {
    meaning: 'Another fieldmesh gateway process is using this data directory; two writers would give readings the same sequence numbers.',
    howToSolve: 'Stop the other process, or give this gateway its own dataDir.',
  },
  FM_ERR_STORE_FULL: {
    meaning: 'The storage budget is reached under policy reject-new, or the disk is full: the readings were refused (counted as loss "refused"), devices got no PUBACK and resend.',
    howToSolve: 'Raise storage.budgetBytes, choose policy downsample or drop-oldest, restore the uplink so acknowledged data can be pruned, or free disk space.',
  },
  FM_ERR_STORE_INPUT: {
    meaning: 'A reading handed to the store is malformed (series name, timestamp or value type).',
    howToSolve: 'Validate readings at ingest before appending.',
  },
} as const;

export type StoreErrorCode = keyof typeof STORE_ERRORS;

export class StoreError extends CodedError<StoreErrorCode> {
  constructor(code: StoreErrorCode, detail: string) {
    super(code, STORE_ERRORS, detail);
    this.name = 'StoreError';
  }
}
