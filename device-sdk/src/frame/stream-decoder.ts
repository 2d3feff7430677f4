/**
 * Streaming fm-frame decoder for a byte stream cut anywhere (serial reads). It keeps at most one
 * block of FRAME_MAX_BYTES' COBS size; a block that grows past it is dropped whole and counted
 * once as oversized, and decoding resumes at the next 0x00. Every non-empty block between two
 * 0x00 bytes is either one decoded frame or exactly one counted rejection, so counts are exact.
 */
import { cobsMaxEncodedLength } from './cobs.js';
import { decodeFrameBlock, FRAME_MAX_BYTES, type Frame } from './codec.js';
import type { FrameRejectCode } from './errors.js';

export interface FrameStreamStats {
  frames: number;
  /** Rejected blocks by reason; their sum is `rejected`. */
  rejects: Record<FrameRejectCode, number>;
  rejected: number;
  /** Bytes that belonged to rejected blocks: line noise, e.g. from a baud-rate mismatch. */
  noiseBytes: number;
  bytes: number;
}

export interface FrameStreamOutput {
  frames: Frame[];
  rejected: { code: FrameRejectCode; bytes: number }[];
}

const MAX_BLOCK = cobsMaxEncodedLength(FRAME_MAX_BYTES);

export function emptyFrameStreamStats(): FrameStreamStats {
  return {
    frames: 0,
    rejected: 0,
    noiseBytes: 0,
    bytes: 0,
    rejects: {
      FM_ERR_FRAME_CRC: 0,
      FM_ERR_FRAME_COBS: 0,
      FM_ERR_FRAME_OVERSIZED: 0,
      FM_ERR_FRAME_VERSION: 0,
      FM_ERR_FRAME_TRUNCATED: 0,
      FM_ERR_FRAME_FIELD: 0,
    },
  };
}

export class FrameStreamDecoder {
  private block = new Uint8Array(MAX_BLOCK);
  private len = 0;
  /** Bytes of the current block beyond MAX_BLOCK; > 0 means "oversized, skip to the next 0x00". */
  private overflow = 0;
  private readonly s = emptyFrameStreamStats();

  push(chunk: Uint8Array): FrameStreamOutput {
    const out: FrameStreamOutput = { frames: [], rejected: [] };
    this.s.bytes += chunk.length;
    let from = 0;
    while (from < chunk.length) {
      const zero = chunk.indexOf(0, from);
      const stop = zero < 0 ? chunk.length : zero;
      this.append(chunk, from, stop);
      if (zero < 0) break;
      this.endBlock(out);
      from = zero + 1;
    }
    return out;
  }

  /** Drops a partial block (e.g. the port was re-opened); it is counted as noise if not empty. */
  reset(): FrameStreamOutput {
    const out: FrameStreamOutput = { frames: [], rejected: [] };
    if (this.len + this.overflow > 0) this.reject(out, 'FM_ERR_FRAME_TRUNCATED', this.len + this.overflow);
    this.len = 0;
    this.overflow = 0;
    return out;
  }

  stats(): FrameStreamStats {
    return { ...this.s, rejects: { ...this.s.rejects } };
  }

  private append(chunk: Uint8Array, from: number, stop: number): void {
    const n = stop - from;
    if (n === 0) return;
    if (this.overflow > 0 || this.len + n > MAX_BLOCK) {
      this.overflow += n;
      return;
    }
    this.block.set(chunk.subarray(from, stop), this.len);
    this.len += n;
  }

  private endBlock(out: FrameStreamOutput): void {
    if (this.overflow > 0) {
      this.reject(out, 'FM_ERR_FRAME_OVERSIZED', this.len + this.overflow);
    } else if (this.len > 0) {
      const r = decodeFrameBlock(this.block.subarray(0, this.len));
      if (r.ok) {
        this.s.frames++;
        out.frames.push(r.frame);
      } else this.reject(out, r.code, this.len);
    }
    this.len = 0;
    this.overflow = 0;
  }

  private reject(out: FrameStreamOutput, code: FrameRejectCode, bytes: number): void {
    this.s.rejects[code]++;
    this.s.rejected++;
    this.s.noiseBytes += bytes;
    out.rejected.push({ code, bytes });
  }
}
