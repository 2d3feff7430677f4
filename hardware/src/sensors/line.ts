/**
 * `line` profile: one measurement set per line, `key=value` pairs separated by spaces, tabs or
 * commas (`t=21.5 h=40`). Keys become sensor names (SENSOR_NAME alphabet); values are decimal
 * numbers or `true`/`false`. A line with any bad pair is rejected whole (`malformed`), so a
 * half-garbled line never stores half a measurement set.
 */
import { SENSOR_NAME, type Reading, type ReadingValue } from '@fieldmesh/device-sdk';
import { asciiString, isPrintableAscii, LineProtocolParser } from './line-splitter.js';
import type { SensorParserOptions } from './parser.js';

/** Longest line: 64 pairs of ~4 characters; firmware that sends more is not this protocol. */
export const LINE_MAX_LENGTH = 256;
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

export function parseLinePairs(text: string): Map<string, ReadingValue> | undefined {
  const pairs = new Map<string, ReadingValue>();
  for (const token of text.split(/[\s,]+/)) {
    if (token === '') continue;
    const eq = token.indexOf('=');
    if (eq <= 0) return undefined;
    const key = token.slice(0, eq);
    const raw = token.slice(eq + 1);
    if (!SENSOR_NAME.test(key) || pairs.has(key)) return undefined;
    let value: ReadingValue;
    if (raw === 'true' || raw === 'false') value = raw === 'true';
    else if (NUMBER.test(raw) && Number.isFinite(Number(raw))) value = Number(raw);
    else return undefined;
    pairs.set(key, value);
  }
  return pairs.size > 0 ? pairs : undefined;
}

export class LineParser extends LineProtocolParser {
  constructor(opts: SensorParserOptions) {
    super(opts, LINE_MAX_LENGTH);
  }

  protected parseLine(bytes: Uint8Array, now: number, out: Reading[]): void {
    if (!isPrintableAscii(bytes)) return this.c.reject('noise', bytes.length + 1);
    const pairs = parseLinePairs(asciiString(bytes));
    if (!pairs) return this.c.reject('malformed', bytes.length + 1);
    for (const [sensor, value] of pairs) out.push({ series: `${this.opts.device}/${sensor}`, ts: now, value });
    this.c.accept(pairs.size);
  }
}
