import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/**
 * Reads MQTT fixed headers (MQTT 3.1.1 §2.2) as bytes arrive and reports a packet whose declared
 * Remaining Length is over the cap, before any of its body is buffered. aedes has no maximum
 * packet size (aedes issue #831): without this, a client declaring a 256 MiB packet makes the
 * broker's parser accumulate 256 MiB.
 *
 * Pure state machine with no broker or socket dependency, so any component can reuse it.
 */
export class MqttPacketScanner {
  /** 0: expecting a fixed header byte 1; 1: reading the length varint; 2: skipping the body. */
  private state = 0;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;

  constructor(readonly maxPacketBytes: number) {}

  /** Returns null when all is well, or the reason to drop the connection. */
  feed(chunk: Uint8Array): string | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 0) {
        i++;
        this.state = 1;
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else if (this.state === 1) {
        const b = chunk[i++]!;
        this.length += (b & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes++;
        if (b & 0x80) {
          // [MQTT-2.2.3] Remaining Length takes at most four bytes.
          if (this.lengthBytes === 4) return 'malformed remaining length';
          continue;
        }
        // Fixed header is 1 byte + 1..4 length bytes; the cap is on the whole packet.
        if (this.length + 1 + this.lengthBytes > this.maxPacketBytes) {
          return `packet of ${this.length + 1 + this.lengthBytes} bytes over the ${this.maxPacketBytes}-byte cap`;
        }
        this.remaining = this.length;
        this.state = this.remaining === 0 ? 0 : 2;
      } else {
        const take = Math.min(this.remaining, chunk.length - i);
        this.remaining -= take;
        i += take;
        if (this.remaining === 0) this.state = 0;
      }
    }
    return null;
  }
}

/**
 * A socket seen through the scanner: aedes reads this stream instead of the socket, so an
 * oversized packet closes the connection before aedes sees a byte of it.
 */
export class GuardedConnection extends Duplex {
  private readonly scanner: MqttPacketScanner;

  constructor(
    private readonly socket: Socket,
    maxPacketBytes: number,
    onViolation: (reason: string) => void,
  ) {
    super({ allowHalfOpen: false });
    this.scanner = new MqttPacketScanner(maxPacketBytes);
    socket.on('data', (chunk: Buffer) => {
      const violation = this.scanner.feed(chunk);
      if (violation !== null) {
        onViolation(violation);
        socket.destroy();
        this.destroy();
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.socket.destroyed) return cb();
    if (this.socket.write(chunk)) cb();
    else this.socket.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
}
