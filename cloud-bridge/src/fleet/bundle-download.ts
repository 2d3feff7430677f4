import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { CloudHttpError } from '../http/errors.js';

/** A byte range of a file, both ends inclusive. */
interface ByteRange {
  start: number;
  end: number;
}

/**
 * The one range a resuming download asks for: `bytes=N-` or `bytes=N-M` (RFC 9110 §14.1.2).
 * Absent: the whole file (null). Anything else (several ranges, a suffix `bytes=-N`, a start at
 * or past the end, junk) is a 416: a gateway only ever resumes from an offset, and answering
 * oddities with the whole file would hide its bug.
 */
function parseRange(header: string | undefined, size: number): ByteRange | null {
  if (header === undefined) return null;
  const m = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(header.trim());
  if (!m) throw new RangeRefusal(size, `Range ${JSON.stringify(header.slice(0, 80))} is not one range bytes=N- or bytes=N-M`);
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) throw new RangeRefusal(size, `range start ${start} is at or past the end of the ${size}-byte file`);
  if (end < start) throw new RangeRefusal(size, `range end ${m[2]} is before its start ${start}`);
  return { start, end };
}

export class RangeRefusal extends CloudHttpError {
  constructor(
    readonly size: number,
    detail: string,
  ) {
    super(416, detail);
  }
}

/**
 * Streams a bundle from disk: 200 with the whole file, or 206 with `Content-Range` for a range.
 * `ETag` is the quoted sha256 of the file (the release's), so a client can tell that what it
 * resumes is the same file. Returns the bytes sent (body only; 0 for HEAD).
 */
export async function sendBundle(req: IncomingMessage, res: ServerResponse, file: string, sha256: string): Promise<number> {
  const size = statSync(file).size;
  const range = parseRange(req.headers.range, size);
  const headers: Record<string, string | number> = {
    'content-type': 'application/gzip',
    'accept-ranges': 'bytes',
    etag: `"${sha256}"`,
    'cache-control': 'no-store',
  };
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  headers['content-length'] = end - start + 1;
  if (range) headers['content-range'] = `bytes ${start}-${end}/${size}`;
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return 0;
  }
  let sent = 0;
  const stream = createReadStream(file, { start, end });
  stream.on('data', (c: string | Buffer) => (sent += c.length));
  try {
    await pipeline(stream, res);
  } catch {
    // The client went away mid-download: it resumes with a range.
    res.destroy();
  }
  return sent;
}
