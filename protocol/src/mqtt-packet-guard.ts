import { Duplex } from 'node:stream';
import { systemClock, type Clock, type Timer } from '@fieldmesh/device-sdk';

/**
 * Reads MQTT fixed headers (MQTT 3.1.1 §2.2) off the raw byte stream BEFORE aedes sees it, and
 * stops a connection whose next packet declares more than `maxPacketBytes`. aedes has no packet
 * size option (its issue #831): its parser would buffer a declared 256 MiB body as it arrives.
 * Bytes pass through unchanged; only the header is inspected, so the cost is a few branches
 * per packet.
 */
export class FixedHeaderScanner {
  /** Bytes of the current packet's body still to skip. */
  private body = 0;
  /** Bytes of the remaining-length field read so far (0 = expecting a first byte). */
  private lenBytes = -1;
  private len = 0;
  private mult = 1;

  constructor(private maxPacketBytes: number) {}

  /** Changes the cap for packets whose header is read from now on (e.g. raised once authenticated). */
  setMaxPacketBytes(n: number): void {
    this.maxPacketBytes = n;
  }

  /** True when the bytes scanned so far end inside a packet (header or body). */
  midPacket(): boolean {
    return this.body > 0 || this.lenBytes !== -1;
  }

  /**
   * Scans `chunk`; returns null when every packet in it is within the cap, else a reason.
   * Remaining length: 1–4 bytes, 7 bits each, low first, high bit = more (§2.2.3).
   */
  scan(chunk: Buffer): string | null {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.body > 0) {
        const skip = Math.min(this.body, n - i);
        this.body -= skip;
        i += skip;
        continue;
      }
      if (this.lenBytes === -1) {
        // First byte: packet type and flags. Type 0 is reserved (§2.2.1).
        if (chunk[i]! >> 4 === 0) return 'reserved packet type 0';
        this.lenBytes = 0;
        this.len = 0;
        this.mult = 1;
        i++;
        continue;
      }
      const b = chunk[i++]!;
      this.len += (b & 0x7f) * this.mult;
      this.mult *= 128;
      this.lenBytes++;
      if (b & 0x80) {
        if (this.lenBytes >= 4) return 'remaining length longer than 4 bytes';
        continue;
      }
      const total = 1 + this.lenBytes + this.len;
      if (total > this.maxPacketBytes) return `packet of ${total} bytes exceeds ${this.maxPacketBytes}`;
      this.body = this.len;
      this.lenBytes = -1;
    }
    return null;
  }
}

export type GuardViolation = 'too_large' | 'slow_packet';

export interface GuardOptions {
  /**
   * Ms a packet may take from its first byte to its last; 0 or absent = no limit. Stops a client
   * that declares a large (allowed) packet and then trickles it, holding a buffer forever.
   */
  packetTimeoutMs?: number;
  clock?: Clock;
}

/** What the guard reads from: a TCP or TLS socket, or a WebSocket stream (MQTT over WebSocket). */
export type GuardedStream = Duplex;

/**
 * The socket as aedes sees it: a Duplex whose readable side is the scanned byte stream. When a
 * packet is over the cap (or, with `packetTimeoutMs`, too slow to complete), `onViolation` is
 * called and the socket destroyed; nothing of the offending packet reaches aedes.
 */
export class GuardedSocket extends Duplex {
  private readonly scanner: FixedHeaderScanner;
  private slowTimer: Timer | null = null;
  private readonly clock: Clock;

  constructor(
    readonly socket: GuardedStream,
    maxPacketBytes: number,
    onViolation: (reason: string, kind: GuardViolation) => void,
    opts: GuardOptions = {},
  ) {
    super({ allowHalfOpen: false });
    this.scanner = new FixedHeaderScanner(maxPacketBytes);
    this.clock = opts.clock ?? systemClock;
    const packetTimeoutMs = opts.packetTimeoutMs ?? 0;
    socket.on('data', (chunk: Buffer) => {
      const bad = this.scanner.scan(chunk);
      if (bad !== null) {
        onViolation(bad, 'too_large');
        socket.destroy();
        this.destroy();
        return;
      }
      if (packetTimeoutMs > 0) {
        if (!this.scanner.midPacket()) this.clearSlowTimer();
        else if (this.slowTimer === null) {
          this.slowTimer = this.clock.setTimeout(() => {
            this.slowTimer = null;
            onViolation(`packet not complete within ${packetTimeoutMs} ms`, 'slow_packet');
            socket.destroy();
            this.destroy();
          }, packetTimeoutMs);
          this.slowTimer.unref?.();
        }
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  /**
   * Raises (or lowers) the packet cap for packets that start from now on: a listener keeps a
   * small cap until CONNECT is authenticated, so a stranger cannot make it buffer a large body.
   */
  setMaxPacketBytes(n: number): void {
    this.scanner.setMaxPacketBytes(n);
  }

  private clearSlowTimer(): void {
    if (this.slowTimer !== null) {
      this.clock.clearTimeout(this.slowTimer);
      this.slowTimer = null;
    }
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.socket.destroyed) return cb(new Error('socket closed'));
    // Backpressure: a device that stops reading must not make the gateway buffer without bound.
    if (this.socket.write(chunk)) cb();
    else this.socket.once('drain', () => cb());
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    if (this.socket.destroyed) return cb(new Error('socket closed'));
    this.socket.cork();
    let ok = true;
    for (const c of chunks) ok = this.socket.write(c.chunk);
    this.socket.uncork();
    if (ok) cb();
    else this.socket.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearSlowTimer();
    this.socket.destroy();
    cb(err);
  }
}
