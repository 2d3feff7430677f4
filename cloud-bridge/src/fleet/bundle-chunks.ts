import { open } from 'node:fs/promises';
import type { Logger } from '@fieldmesh/device-sdk';
import { encodeChunk, encodeChunkRefusal, MAX_CHUNK_BYTES, parseChunkRequest, type ChunkRefusalReason } from '@fieldmesh/protocol';

/** A connection as the chunk server keys it (an aedes client): only its identity is used. */
export type ChunkClient = object;

/** The releases a gateway may fetch: signed size and the bundle file, or null when there is no such release. */
export type BundleShelf = (version: string) => { bytes: number; file: string } | null;

/** Publishes on a gateway's own chunk topic, QoS 1, not retained (the embedded broker). */
export type ChunkSend = (gatewayId: string, payload: Buffer) => Promise<void>;

export interface ChunkLimits {
  /** Chunks being read or written to one connection: further requests are refused `busy`. */
  perConnection: number;
  /** The same over all connections, so many gateways at once hold at most this many chunks. */
  total: number;
  /** Refusals being written to one connection: past it a refused request gets no answer. */
  refusalsPerConnection: number;
}

export const CHUNK_LIMITS: ChunkLimits = { perConnection: 8, total: 256, refusalsPerConnection: 8 };

/** Why a request got no chunk: a refusal reason sent back, or one with no answer. */
export type ChunkRefusalCount = ChunkRefusalReason | 'flood';

interface Session {
  gatewayId: string;
  chunks: number;
  refusals: number;
  closed: boolean;
}

/**
 * Serves release bundles over the uplink (protocol/FLEET-FORMAT.md §4) to gateways that have no
 * credential the HTTP API takes. Memory is bounded by how fast a gateway reads, not by how fast
 * it asks: a chunk holds its slot from the disk read until the broker has written it into the
 * connection (aedes calls back only once the socket drained, and keeps no copy for a clean
 * session), so a gateway that floods requests, or stops reading, holds at most `perConnection`
 * chunks and `refusalsPerConnection` refusals; every further request is counted and refused or
 * dropped, at the cost of parsing it.
 */
export class BundleChunkServer {
  readonly refused: Partial<Record<ChunkRefusalCount, number>> = {};
  bytesSent = 0;
  chunksSent = 0;
  private readonly sessions = new Map<ChunkClient, Session>();
  private held = 0;

  constructor(
    private readonly shelf: BundleShelf,
    private readonly send: ChunkSend,
    private readonly logger: Logger,
    private readonly limits: ChunkLimits = CHUNK_LIMITS,
  ) {}

  /** Chunks held (read or unacknowledged) over all connections. */
  get inFlight(): number {
    return this.held;
  }

  /** The connection is gone: what was being written to it is dropped with it. */
  gone(client: ChunkClient): void {
    const s = this.sessions.get(client);
    if (!s) return;
    s.closed = true;
    this.held -= s.chunks;
    this.sessions.delete(client);
  }

  /** A message on `fm/g/<gatewayId>/fleet/bundle/get` from `client` (the ACL let only that gateway publish it). */
  request(client: ChunkClient, gatewayId: string, payload: Buffer): void {
    const s = this.session(client, gatewayId);
    const p = parseChunkRequest(payload);
    // Nothing names what a malformed request asked for, so no answer could be matched: counted only.
    if (!p.ok) return this.count('malformed');
    const { version, offset, length } = p.value;
    if (length > MAX_CHUNK_BYTES) return this.refuse(s, version, offset, 'bad-length', `length ${length} is over ${MAX_CHUNK_BYTES} bytes`);
    const release = this.shelf(version);
    if (release === null) return this.refuse(s, version, offset, 'unknown-release', `no release ${version}`);
    if (offset >= release.bytes) return this.refuse(s, version, offset, 'out-of-range', `offset ${offset} is at or past the end of the ${release.bytes}-byte bundle`);
    if (s.chunks >= this.limits.perConnection || this.held >= this.limits.total) {
      return this.refuse(s, version, offset, 'busy', `${s.chunks >= this.limits.perConnection ? `${s.chunks} chunks for this connection are` : `${this.held} chunks are`} still being sent`);
    }
    s.chunks++;
    this.held++;
    void this.serve(s, version, offset, Math.min(length, release.bytes - offset), release);
  }

  private async serve(s: Session, version: string, offset: number, length: number, release: { bytes: number; file: string }): Promise<void> {
    let data: Buffer;
    try {
      data = await readRange(release.file, offset, length);
    } catch (err) {
      this.free(s);
      this.logger.error({ gateway: s.gatewayId, version, err: (err as Error).message }, 'bundle chunk not read');
      return this.refuse(s, version, offset, 'unknown-release', `bundle ${version} is not readable on the cloud`);
    }
    if (s.closed) return;
    try {
      await this.send(s.gatewayId, encodeChunk(version, offset, release.bytes, data));
      this.bytesSent += data.length;
      this.chunksSent++;
    } catch (err) {
      this.logger.warn({ gateway: s.gatewayId, err: (err as Error).message }, 'bundle chunk not published');
    } finally {
      this.free(s);
    }
  }

  private free(s: Session): void {
    if (s.closed || s.chunks === 0) return;
    s.chunks--;
    this.held--;
  }

  private refuse(s: Session, version: string, offset: number, reason: ChunkRefusalReason, why: string): void {
    if (s.closed) return;
    if (s.refusals >= this.limits.refusalsPerConnection) return this.count('flood');
    this.count(reason);
    s.refusals++;
    void this.send(s.gatewayId, encodeChunkRefusal(version, offset, reason, why))
      .catch(() => {})
      .finally(() => {
        if (s.refusals > 0) s.refusals--;
      });
  }

  private count(reason: ChunkRefusalCount): void {
    this.refused[reason] = (this.refused[reason] ?? 0) + 1;
  }

  private session(client: ChunkClient, gatewayId: string): Session {
    let s = this.sessions.get(client);
    if (!s) {
      s = { gatewayId, chunks: 0, refusals: 0, closed: false };
      this.sessions.set(client, s);
    }
    return s;
  }
}

async function readRange(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    if (bytesRead !== length) throw new Error(`${file}: ${bytesRead} of ${length} bytes at ${offset}`);
    return buf;
  } finally {
    await fh.close();
  }
}
