/**
 * The contract every serial sensor profile implements (one profile per file). A parser
 * turns a byte stream cut anywhere into readings and counts what it throws away. It never throws
 * on input: line noise, a baud-rate mismatch and a hostile device are all just counted rejects.
 */
import type { Reading } from '@fieldmesh/device-sdk';

/**
 * Why a block of bytes was thrown away:
 * - `checksum`: framing was right, the checksum was not (noise inside a frame);
 * - `noise`: bytes that are not this protocol at all (wrong baud rate, boot chatter, binary junk);
 * - `oversized`: a frame or line longer than the protocol allows; skipped to its end unbuffered;
 * - `malformed`: a well-framed, checksummed message whose fields make no sense.
 */
export type RejectReason = 'checksum' | 'noise' | 'oversized' | 'malformed';

export interface FeedResult {
  /** Series are `device/sensor`; `device` is the port's configured device unless the protocol names one. */
  readings: Reading[];
  /** How many rejections this feed added (the same units as `SensorParserStats.rejected`). */
  rejected: number;
}

export interface SensorParserStats {
  bytes: number;
  /** Messages accepted (lines, sentences, frames), whether or not they carried a reading. */
  frames: number;
  readings: number;
  /** Valid messages of a kind this profile does not turn into readings (e.g. NMEA GSV). */
  ignored: number;
  rejected: number;
  rejects: Record<RejectReason, number>;
  /** Bytes thrown away, whatever the reason. */
  discardedBytes: number;
}

/** A request the gateway writes to the port at an interval, for sensors that answer on demand. */
export interface PollCommand {
  bytes: Uint8Array;
  /** ms between two requests. */
  intervalMs: number;
}

export interface SensorParser {
  /** Parses the next chunk; `now` (ms since the epoch) stamps readings the protocol does not date. */
  feed(chunk: Uint8Array, now: number): FeedResult;
  /** Forgets a partial message, e.g. after the port was re-opened (counted as noise if any). */
  reset(): void;
  stats(): SensorParserStats;
  readonly poll?: PollCommand;
}

export interface SensorParserOptions {
  /** Device id the readings are stored under (the `device` key of the serial config). */
  device: string;
}

/** Counting shared by the parsers, so every profile reports the same shape. */
export class ParserCounters {
  private readonly s: SensorParserStats = {
    bytes: 0,
    frames: 0,
    readings: 0,
    ignored: 0,
    rejected: 0,
    rejects: { checksum: 0, noise: 0, oversized: 0, malformed: 0 },
    discardedBytes: 0,
  };
  private batchRejected = 0;

  reject(reason: RejectReason, bytes: number): void {
    this.s.rejects[reason]++;
    this.s.rejected++;
    this.s.discardedBytes += bytes;
    this.batchRejected++;
  }
  /** Bytes thrown away as part of a rejection already counted. */
  discard(bytes: number): void {
    this.s.discardedBytes += bytes;
  }
  accept(readings: number): void {
    this.s.frames++;
    this.s.readings += readings;
  }
  ignore(): void {
    this.s.ignored++;
  }
  begin(bytes: number): void {
    this.s.bytes += bytes;
    this.batchRejected = 0;
  }
  end(readings: Reading[]): FeedResult {
    return { readings, rejected: this.batchRejected };
  }
  snapshot(): SensorParserStats {
    return { ...this.s, rejects: { ...this.s.rejects } };
  }
}
