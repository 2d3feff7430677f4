import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bundleTopics, encodeChunk, encodeChunkRefusal, encodeChunkRequest, MAX_CHUNK_BYTES, MAX_CHUNK_REQUEST_BYTES, parseChunk, parseChunkRequest } from '#protocol/index';

const vectors = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../protocol/vectors/fleet/v1-bundle-chunks.json'), 'utf8'));

describe('bundle chunks over the uplink (FLEET-FORMAT.md §4)', () => {
  it('replays the vectors byte for byte', () => {
    expect(encodeChunkRequest(vectors.request.value).toString()).toBe(vectors.request.payload);
    expect(parseChunkRequest(Buffer.from(vectors.request.payload))).toEqual({ ok: true, value: { format: 1, ...vectors.request.value } });
    const c = vectors.chunk.value;
    expect(encodeChunk(c.version, c.offset, c.total, Buffer.from(c.data, 'hex')).toString('hex')).toBe(vectors.chunk.hex);
    const parsed = parseChunk(Buffer.from(vectors.chunk.hex, 'hex'));
    expect(parsed.ok && parsed.value.kind === 'data' && { ...parsed.value, data: Buffer.from(parsed.value.data).toString('hex') }).toEqual(c);
    for (const name of ['refusal', 'busy'] as const) {
      const r = vectors[name].value;
      expect(encodeChunkRefusal(r.version, r.offset, r.reason, r.why).toString('hex')).toBe(vectors[name].hex);
      expect(parseChunk(Buffer.from(vectors[name].hex, 'hex'))).toEqual({ ok: true, value: r });
    }
  });

  it('lays the chunk header out as written: format, kind, version length and text, 48-bit offset and total, then the raw bytes', () => {
    const b = encodeChunk('1.2.0', 2 ** 40 + 5, 2 ** 41, Buffer.from('xyz'));
    expect([...b.subarray(0, 3)]).toEqual([1, 0, 5]);
    expect(b.subarray(3, 8).toString()).toBe('1.2.0');
    expect(b.readUIntBE(8, 6)).toBe(2 ** 40 + 5);
    expect(b.readUIntBE(14, 6)).toBe(2 ** 41);
    expect(b.subarray(20).toString()).toBe('xyz');
  });

  it('refuses malformed requests and chunks with a reason, never throwing', () => {
    for (const bad of vectors.badRequests) expect(parseChunkRequest(Buffer.from(bad.payload))).toEqual({ ok: false, why: bad.why });
    for (const bad of vectors.badChunks) expect(parseChunk(Buffer.from(bad.hex, 'hex'))).toEqual({ ok: false, why: bad.why });
    expect(parseChunkRequest(Buffer.alloc(MAX_CHUNK_REQUEST_BYTES + 1, 0x20)).ok).toBe(false);
    expect(parseChunkRequest(Buffer.from('not json')).ok).toBe(false);
    expect(parseChunkRequest(Buffer.from('[1]')).ok).toBe(false);
    expect(parseChunk(encodeChunk('1.2.0', 0, 10, Buffer.alloc(MAX_CHUNK_BYTES + 1)))).toMatchObject({ ok: false });
    for (let n = 0; n < 300; n++) expect(() => parseChunk(Buffer.from(Array.from({ length: n % 40 }, (_, i) => (i * 37 + n) & 0xff)))).not.toThrow();
  });

  it('takes any positive length in a request, so the cloud refuses one over the limit as bad-length (not malformed)', () => {
    expect(parseChunkRequest(encodeChunkRequest({ version: '1.0.0', offset: 0, length: MAX_CHUNK_BYTES * 4 }))).toMatchObject({ ok: true, value: { length: MAX_CHUNK_BYTES * 4 } });
  });

  it("names each gateway's own topics", () => {
    expect(bundleTopics.get('gw-a')).toBe('fm/g/gw-a/fleet/bundle/get');
    expect(bundleTopics.chunk('gw-a')).toBe('fm/g/gw-a/fleet/bundle/chunk');
  });
});
