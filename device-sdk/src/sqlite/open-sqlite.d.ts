/** What openSqlite needs of a connection (better-sqlite3's Database has it). */
export interface SqliteConnection {
  pragma(source: string, options?: { simple?: boolean }): unknown;
  close(): unknown;
}

export interface SqliteDriver<Db extends SqliteConnection> {
  new (file: string, options?: { readonly?: boolean; fileMustExist?: boolean; timeout?: number }): Db;
}

export type SqliteOpenFailure = 'open' | 'durability';

export interface OpenSqliteOptions {
  /** Open for reading only: no mode change, no pragmas set. */
  readonly?: boolean;
  fileMustExist?: boolean;
  /** Default 5000 ms. */
  busyTimeoutMs?: number;
  /**
   * 'durable' (default): WAL + synchronous=FULL set and read back. 'as-is': journal and sync left
   * as found (a lock file; a file checked for damage before it is trusted).
   */
  durability?: 'durable' | 'as-is';
  /** Builds the error thrown for a failure, so each component keeps its own error code. */
  fail?: (kind: SqliteOpenFailure, message: string, cause?: unknown) => Error;
}

export declare const SYNCHRONOUS_FULL: 2;
export declare const DATABASE_FILE_MODE: number;

export declare function openSqlite<Db extends SqliteConnection>(Driver: SqliteDriver<Db>, file: string, opts?: OpenSqliteOptions): Db;
