import type Database from 'better-sqlite3';
import type { Reading } from '@fieldmesh/device-sdk';
import type { DeviceSeqMark } from './reading-log.js';
import type { SeriesCatalog } from './series-catalog.js';

export declare const KIND_NUMBER: 0;
export declare const KIND_BOOLEAN: 1;
export declare const KIND_STRING: 2;
export declare const INSERT_ROWS: number;

/** Stored with readings appended while the wall clock is not known good (clock-health.ts). */
export interface UncertainStamp {
  boot: number;
  mono: number;
  /** wall − monotonic at append; a sync tells the true offset, the difference corrects ts. */
  wallOff: number;
}

/** One append, columnar: also the commit thread's message body. */
export interface AppendBatch {
  firstSeq: number;
  series: string[];
  units: string[];
  ts: number[];
  kinds: number[];
  values: Array<number | string>;
  markDevices: string[];
  markSeqs: number[];
  markDigests: Array<string | null>;
  window: number;
  stamp: UncertainStamp | null;
}

export declare function toAppendBatch(
  firstSeq: number,
  readings: readonly Reading[],
  marks: readonly DeviceSeqMark[],
  window: number,
  stamp?: UncertainStamp | null,
): AppendBatch;

export declare function prepareAppend(db: Database.Database, catalog: SeriesCatalog): (batch: AppendBatch) => number;
