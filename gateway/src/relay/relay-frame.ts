import { RelayError } from './errors.js';

/**
 * Relay wire framing (RELAY.md §2). On the TCP stream every frame is
 *
 *   u32 BE length N | N bytes: a sealed envelope (gateway/src/mesh/seal.ts)
 *
 * and the envelope's payload (after opening) is `u8 type | body`:
 *
 *   1 HELLO   JSON { v: 1, id, nonce (base64, 32 bytes) }   sealed under the cluster key
 *   2 BATCH   an uplink batch, byte for byte (protocol/FORMAT.md)origin → relay
 *   3 ACK     the cloud's ack JSON (protocol/FORMAT.md §6)      relay → origin
 *   4 REFUSE  JSON { code, reason }: the relay will not serve now; it closes after it
 *   5 REPLICA_OPEN  JSON { epoch, ackedSeq }            origin → buddy: start/resume replication
 *   6 REPLICATE     an uplink batch, byte for byte        origin → buddy: store it durably
 *   7 REPLICA_ACK   JSON { epoch, storedSeq }             buddy → origin: all up to storedSeq committed
 *   8 WATERMARK     JSON { epoch, ackedSeq }              origin → buddy: the cloud has these, trim
 *
 * The HELLO may carry `purpose: "relay" | "replicate"` (default relay).
 *
 * Every frame but the two hellos is sealed under the session key (relay-channel.ts).
 */
export const FRAME_HELLO = 1;
export const FRAME_BATCH = 2;
export const FRAME_ACK = 3;
export const FRAME_REFUSE = 4;
export const FRAME_REPLICA_OPEN = 5;
export const FRAME_REPLICATE = 6;
export const FRAME_REPLICA_ACK = 7;
export const FRAME_WATERMARK = 8;

/**
 * Largest frame accepted: a 1 MiB batch (the uplink's default cap) plus envelope overhead, with
 * room for a 4 MiB batch; anything longer is a hostile or broken peer, refused before buffering it.
 */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024 + 64;

/**
 * Largest frame before the peer's HELLO opened: a sealed hello is about 200 bytes. Without this
 * cap a stranger with no key makes the relay buffer MAX_FRAME_BYTES per connection.
 */
export const MAX_HELLO_FRAME_BYTES = 4096;

export function lengthPrefixed(sealed: Buffer): Buffer {
  if (sealed.length > MAX_FRAME_BYTES) throw new RelayError('FM_ERR_RELAY_FRAME', `frame of ${sealed.length} bytes (at most ${MAX_FRAME_BYTES})`);
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(sealed.length, 0);
  return Buffer.concat([head, sealed]);
}

export function typedPayload(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(1 + body.length);
  out[0] = type;
  body.copy(out, 1);
  return out;
}

/**
 * Splits a byte stream into frames whatever way TCP cut it. Throws FM_ERR_RELAY_FRAME on an
 * announced length over the cap (the caller closes the connection).
 */
export class FrameSplitter {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(
    /** Longest frame accepted now; raised once the peer is authenticated (setMaxFrameBytes). */
    private maxFrameBytes = MAX_FRAME_BYTES,
  ) {}

  setMaxFrameBytes(n: number): void {
    this.maxFrameBytes = n;
  }

  push(data: Buffer): Buffer[] {
    this.chunks.push(data);
    this.buffered += data.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const head = this.peek(4);
      const n = head.readUInt32BE(0);
      if (n > this.maxFrameBytes || n === 0) throw new RelayError('FM_ERR_RELAY_FRAME', `announced frame of ${n} bytes (at most ${this.maxFrameBytes} now)`);
      if (this.buffered < 4 + n) break;
      const all = this.take(4 + n);
      frames.push(all.subarray(4));
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  private take(n: number): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered -= n;
    return out;
  }
}
