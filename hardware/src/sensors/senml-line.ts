/**
 * `senml-line` profile: one SenML JSON pack (array) or single record (object) per line
 * (RFC 8428 §5, framed by LF as in NDJSON). Decoding is the device SDK's SenML codec, so serial
 * and MQTT devices obey the same rules; the port's configured device id names every series,
 * whatever `bn` claims.
 */
import { type Reading, decodeSenml } from '@fieldmesh/device-sdk';
import { LineProtocolParser } from './line-splitter.js';
import type { SensorParserOptions } from './parser.js';

/** Longest line: a pack of ~100 records; bigger packs belong on MQTT, not on a serial line. */
export const SENML_LINE_MAX_LENGTH = 16 * 1024;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export class SenmlLineParser extends LineProtocolParser {
  constructor(opts: SensorParserOptions) {
    super(opts, SENML_LINE_MAX_LENGTH);
  }

  protected parseLine(bytes: Uint8Array, now: number, out: Reading[]): void {
    let text: string;
    try {
      text = strictUtf8.decode(bytes).trim();
    } catch {
      return this.c.reject('noise', bytes.length + 1);
    }
    // JSON text starts with [ or {; anything else is not SenML at all (boot banner, noise).
    if (text[0] !== '[' && text[0] !== '{') return this.c.reject('noise', bytes.length + 1);
    try {
      const pack = decodeSenml(text[0] === '{' ? `[${text}]` : text, { device: this.opts.device, now });
      out.push(...pack.readings);
      this.c.accept(pack.readings.length);
    } catch {
      // decodeSenml throws only SenmlError on bad input: a well-framed line we cannot store.
      this.c.reject('malformed', bytes.length + 1);
    }
  }
}
