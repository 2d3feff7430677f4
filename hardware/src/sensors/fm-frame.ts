/**
 * `fm-frame` profile: the fieldmesh binary frame (device-sdk/FORMAT.md) from a microcontroller.
 * A frame may name its device (several MCUs on one RS-485 bus); a frame that leaves it empty is
 * stored under the port's configured device.
 */
import type { Reading } from '@fieldmesh/device-sdk';
import { FrameStreamDecoder, frameReadings, type FrameRejectCode } from '@fieldmesh/device-sdk/frame';
import { ParserCounters, type FeedResult, type RejectReason, type SensorParser, type SensorParserOptions } from './parser.js';

const REASON: Record<FrameRejectCode, RejectReason> = {
  FM_ERR_FRAME_CRC: 'checksum',
  FM_ERR_FRAME_COBS: 'noise',
  FM_ERR_FRAME_OVERSIZED: 'oversized',
  FM_ERR_FRAME_VERSION: 'malformed',
  FM_ERR_FRAME_TRUNCATED: 'malformed',
  FM_ERR_FRAME_FIELD: 'malformed',
};

export class FmFrameParser implements SensorParser {
  private readonly dec = new FrameStreamDecoder();
  private readonly c = new ParserCounters();

  constructor(private readonly opts: SensorParserOptions) {}

  feed(chunk: Uint8Array, now: number): FeedResult {
    this.c.begin(chunk.length);
    const out = this.dec.push(chunk);
    for (const r of out.rejected) this.c.reject(REASON[r.code], r.bytes);
    const readings: Reading[] = [];
    for (const frame of out.frames) {
      const rs = frameReadings(frame, now, this.opts.device);
      readings.push(...rs);
      this.c.accept(rs.length);
    }
    return this.c.end(readings);
  }

  reset(): void {
    for (const r of this.dec.reset().rejected) this.c.reject('noise', r.bytes);
  }

  stats() {
    return this.c.snapshot();
  }
}
